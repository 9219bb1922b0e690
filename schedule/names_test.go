package schedule

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		kind    NameKind
		value   string
		wantErr string // substring; "" = valid
	}{
		{"base ok", NameBaseTaskType, "DemoTask", ""},
		{"base unicode ok", NameBaseTaskType, "订单同步", ""},
		{"base dots and dashes ok", NameBaseTaskType, "order.sync-v2_1", ""},
		{"base empty", NameBaseTaskType, "", `baseTaskType "": must not be empty`},
		{"base dot", NameBaseTaskType, ".", `must not be "." or ".."`},
		{"base dotdot", NameBaseTaskType, "..", `must not be "." or ".."`},
		{"base slash", NameBaseTaskType, "a/b", `baseTaskType "a/b": '/' at position 1 is not allowed`},
		{"base dollar", NameBaseTaskType, "a$b", `'$' at position 1 is not allowed`},
		{"base leading dollar", NameBaseTaskType, "$a", `'$' at position 0 is not allowed`},
		{"base control", NameBaseTaskType, "a\x00b", `control character '\x00' at position 1`},
		{"base DEL", NameBaseTaskType, "ab\x7f", `control character '\x7f' at position 2`},
		{"base C1 control", NameBaseTaskType, "a\u0085", `control character '\u0085' at position 1`},
		{"base space", NameBaseTaskType, "a b", `white space ' ' at position 1`},
		{"base ideographic space", NameBaseTaskType, "a\u3000b", `white space '\u3000' at position 1`},
		{"base invalid utf8", NameBaseTaskType, "a\xffb", `invalid UTF-8 at position 1`},
		{"base private use", NameBaseTaskType, "a\ue000", `U+E000 at position 1 is not allowed (ZooKeeper refuses it)`},
		{"base U+FFFE", NameBaseTaskType, "\ufffe", `U+FFFE at position 0`},
		{"base emoji (outside BMP)", NameBaseTaskType, "a😀", `U+1F600 at position 1`},
		{"base position counts characters", NameBaseTaskType, "杭州/x", `'/' at position 2`},
		{"base max length ok", NameBaseTaskType, strings.Repeat("a", MaxNameLen), ""},
		{"base too long", NameBaseTaskType, strings.Repeat("a", MaxNameLen+1), "longer than 128 bytes (129)"},
		{"ownSign ok", NameOwnSign, "TEST", ""},
		{"ownSign dollar", NameOwnSign, "T$", `'$' at position 1`},
		{"strategy ok", NameStrategy, "DemoTask-Strategy", ""},
		{"strategy slash", NameStrategy, "s/1", `strategyName "s/1": '/' at position 1`},
		{"bean ok", NameBean, "demoTaskBean", ""},
		{"bean dollar", NameBean, "Outer$Inner", `beanName "Outer$Inner": '$' at position 5`},
		{"item ok", NameItemID, "10", ""},
		{"item word ok", NameItemID, "east-1", ""},
		{"item colon", NameItemID, "0:1", `':' at position 1 is not allowed`},
		{"item open brace", NameItemID, "a{", `'{' at position 1`},
		{"item close brace", NameItemID, "}", `'}' at position 0`},
		{"item comma", NameItemID, "1,2", `',' at position 1`},
		{"item dollar", NameItemID, "1$", `'$' at position 1`},
		{"item too long", NameItemID, strings.Repeat("1", MaxNameLen+1), "longer than 128 bytes"},
		{"host ipv4", NameHost, "10.0.0.5", ""},
		{"host ipv6 colon ok", NameHost, "fe80::1", ""},
		{"host name", NameHost, "host-b.example.com", ""},
		{"host long ok", NameHost, strings.Repeat("h", MaxHostLen), ""},
		{"host too long", NameHost, strings.Repeat("h", MaxHostLen+1), "longer than 255 bytes"},
		{"host dollar", NameHost, "h$1", `host "h$1": '$' at position 1`},
		{"runtime bare", NameTaskType, "DemoTask", ""},
		{"runtime with ownSign", NameTaskType, "DemoTask$TEST", ""},
		{"runtime empty ownSign", NameTaskType, "DemoTask$", `ownSign: must not be empty`},
		{"runtime empty base", NameTaskType, "$TEST", `base task type: must not be empty`},
		{"runtime two dollars", NameTaskType, "a$b$c", `ownSign: '$' at position 3 is not allowed`},
		{"runtime slash in ownSign", NameTaskType, "a$b/c", `ownSign: '/' at position 3`},
		{"server id ok", NameServerID, "DemoTask$10.0.0.5$0C78AB$0000000007", ""},
		{"server id with ownSign ok", NameServerID, "DemoTask$TEST$10.0.0.5$0C78AB$0000000007", ""},
		{"server id too few parts", NameServerID, "DemoTask$10.0.0.5$0000000007", "has 3 '$'-separated parts, want 4 to 5"},
		{"server id empty part", NameServerID, "DemoTask$$x$1", "part 2: must not be empty"},
		{"server id slash", NameServerID, "Demo$1.2.3.4$u/u$1", `part 3: '/' at position 14`},
		{"server id too long", NameServerID, strings.Repeat("a", MaxIDLen+1), "longer than 1024 bytes"},
		{"factory id ok", NameFactoryID, "10.0.0.5$host1$5F00AA$0000000003", ""},
		{"factory id five parts", NameFactoryID, "a$b$c$d$e", "has 5 '$'-separated parts, want 4"},
		{"factory id empty", NameFactoryID, "", "must not be empty"},
		{"unknown kind", NameKind("nope"), "x", `unknown name kind "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.kind, tt.value)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "schedule: "+string(tt.kind)+" "), err.Error())
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, string(tt.kind), fe.Field)
		})
	}
}

func TestRuntimeName(t *testing.T) {
	tests := []struct {
		name, base, ownSign, want string
	}{
		{"BASE is bare", "orders", "BASE", "orders"},
		{"empty is bare", "orders", "", "orders"},
		{"other ownSign", "orders", "TEST", "orders$TEST"},
		{"lower-case base is not BASE", "orders", "base", "orders$base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, RuntimeName(tt.base, tt.ownSign))
		})
	}
}

func TestSplitRuntimeName(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantBase    string
		wantOwnSign string
		wantErr     string
	}{
		{"bare", "orders", "orders", "BASE", ""},
		{"with ownSign", "orders$TEST", "orders", "TEST", ""},
		{"explicit BASE", "orders$BASE", "orders", "BASE", ""},
		{"empty", "", "", "", `taskType "": must not be empty`},
		{"empty ownSign", "orders$", "", "", "ownSign: must not be empty"},
		{"second dollar", "orders$A$B", "", "", "ownSign: '$' at position 8"},
		{"slash", "or/ders", "", "", "'/' at position 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, ownSign, err := SplitRuntimeName(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantBase, base)
			assert.Equal(t, tt.wantOwnSign, ownSign)
			assert.Equal(t, RuntimeName(base, ownSign), strings.TrimSuffix(tt.in, "$BASE"))
		})
	}
}
