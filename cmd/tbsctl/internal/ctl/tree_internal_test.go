package ctl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecodeValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"blank", "  \n", ""},
		{"json compacted", "{\"a\": [1, 2],\n \"b\": \"x\"}", `{"a":[1,2],"b":"x"}`},
		{"html escapes shown", `{"p":"YEAR\u003e30 \u0026 A\u003cB"}`, `{"p":"YEAR>30 & A<B"}`},
		{"escaped backslash kept", `{"p":"\\u003c"}`, `{"p":"\\u003c"}`},
		{"other escapes kept", `{"p":"\"q\" \u00e9"}`, `{"p":"\"q\" \u00e9"}`},
		{"java version text", "tbschedule-3.4.0", `"tbschedule-3.4.0"`},
		{"number", "42", "42"},
		{"binary", "\xff\x00\x01", "0xff0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, decodeValue([]byte(tc.in)))
		})
	}
}
