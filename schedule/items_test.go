package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseItemDefs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []ItemDef
	}{
		{"none", nil, []ItemDef{}},
		{"bare ids", []string{"0", "1", "10"}, []ItemDef{{ID: "0"}, {ID: "1"}, {ID: "10"}}},
		{"parameter", []string{"0:{TYPE=A,KIND=1}"}, []ItemDef{{ID: "0", Parameter: "TYPE=A,KIND=1"}}},
		{"white space around colon and brace", []string{"  3 \t:\n {X=1}  "}, []ItemDef{{ID: "3", Parameter: "X=1"}}},
		{"parameter trimmed at its ends, as TBSchedule does", []string{"4:{ a = 1 , b }"}, []ItemDef{{ID: "4", Parameter: "a = 1 , b"}}},
		{"spaces everywhere", []string{" 2 : { b = 3 } "}, []ItemDef{{ID: "2", Parameter: "b = 3"}}},
		{"empty parameter", []string{"5:{}"}, []ItemDef{{ID: "5"}}},
		{"unicode parameter", []string{"6:{AREA=杭州}"}, []ItemDef{{ID: "6", Parameter: "AREA=杭州"}}},
		{"non-numeric id", []string{"east:{R=1}", "west"}, []ItemDef{{ID: "east", Parameter: "R=1"}, {ID: "west"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseItemDefs(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseItemDefsErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		wantErr string
	}{
		{"empty", []string{""}, `taskItems[0] "": empty item definition`},
		{"blank", []string{"0", "  "}, `taskItems[1] "  ": empty item definition`},
		{"missing id", []string{":{A}"}, `taskItems[0] ":{A}": missing item id before ':'`},
		{"colon without brace", []string{"a:b"}, `taskItems[0] "a:b": ':' must be followed by '{parameter}'`},
		{"colon at end", []string{"a:"}, `':' must be followed by '{parameter}'`},
		{"brace without colon", []string{"a{b}"}, `missing ':' between the item id and '{'`},
		{"unclosed brace", []string{"3:{A"}, `taskItems[0] "3:{A": missing '}' after the parameter`},
		{"nested brace", []string{"3:{A{B}}"}, `'{' inside the parameter is not allowed`},
		{"trailing garbage", []string{"3:{A}x"}, `unexpected text "x" after the closing '}'`},
		{"second parameter", []string{"3:{A}{B}"}, `unexpected text "{B}" after the closing '}'`},
		{"text after id", []string{"3 4"}, `unexpected text "4" after the item id`},
		{"bad id char", []string{"a,b"}, `taskItems[0] "a,b": item id ',' at position 1 is not allowed`},
		{"stray close brace", []string{"a}"}, `item id '}' at position 1 is not allowed`},
		{"slash id", []string{"a/b"}, `item id '/' at position 1`},
		{"dollar id", []string{"a$b"}, `item id '$' at position 1`},
		{"control in parameter", []string{"1:{a\nb}"}, `control character '\n' at position 1 of the parameter`},
		{"invalid utf8", []string{"1:{\xff}"}, `invalid UTF-8`},
		{"duplicate", []string{"0", "1", "0:{X}"}, `taskItems[2] "0:{X}": duplicate item id "0" (first at taskItems[0])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseItemDefs(tt.in)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseItemDefsReportsEveryProblem(t *testing.T) {
	_, err := ParseItemDefs([]string{"0", "", "1:{A", "0", "2", "x/y"})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`taskItems[1] "": empty item definition`,
		`taskItems[2] "1:{A": missing '}'`,
		`taskItems[3] "0": duplicate item id "0" (first at taskItems[0])`,
		`taskItems[5] "x/y": item id '/' at position 1`,
	} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "taskItems[4]")
	assert.Equal(t, 4, strings.Count(msg, "schedule: taskItems["), msg)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	for _, e := range joined.Unwrap() {
		assert.ErrorIs(t, e, ErrInvalid)
	}
}

func TestItemDefString(t *testing.T) {
	tests := []struct {
		name string
		in   ItemDef
		want string
	}{
		{"bare", ItemDef{ID: "7"}, "7"},
		{"parameter", ItemDef{ID: "7", Parameter: "A=1,B=2"}, "7:{A=1,B=2}"},
		{"inner spaces kept", ItemDef{ID: "7", Parameter: "x = 1, y"}, "7:{x = 1, y}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.String())
			back, err := ParseItemDefs([]string{tt.want})
			require.NoError(t, err)
			assert.Equal(t, []ItemDef{tt.in}, back)
		})
	}
	assert.Equal(t, []string{"1", "2:{P}"}, FormatItemDefs([]ItemDef{{ID: "1"}, {ID: "2", Parameter: "P"}}))
}

func TestSplitItemList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"blank", "  \t", nil, ""},
		{"one", "0", []string{"0"}, ""},
		{"several", "0,1, 2 ,3", []string{"0", "1", "2", "3"}, ""},
		{"commas inside braces", "0:{TYPE=A,KIND=1}, 1:{TYPE=A,KIND=2},2", []string{"0:{TYPE=A,KIND=1}", "1:{TYPE=A,KIND=2}", "2"}, ""},
		{"spaces around colon kept for the parser", "0 : {A, B} ,1", []string{"0 : {A, B}", "1"}, ""},
		{"empty entry", "0,,1", nil, `"0,,1": entry 1 is empty`},
		{"trailing comma", "0,1,", nil, `entry 2 is empty`},
		{"leading comma", ",0", nil, `entry 0 is empty`},
		{"unclosed", "0:{A,B", nil, `'{' at byte 2 is never closed`},
		{"stray close", "0:A},1", nil, `'}' at byte 3 without '{'`},
		{"nested", "0:{A{B}}", nil, `'{' at byte 4 inside braces opened at byte 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitItemList(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitItemListThenParse(t *testing.T) {
	entries, err := SplitItemList("0:{TYPE=A,KIND=1}, 1 : {TYPE=B} ,10")
	require.NoError(t, err)
	defs, err := ParseItemDefs(entries)
	require.NoError(t, err)
	assert.Equal(t, []ItemDef{{ID: "0", Parameter: "TYPE=A,KIND=1"}, {ID: "1", Parameter: "TYPE=B"}, {ID: "10"}}, defs)
}

// FuzzParseItemDefs: parsing never panics, every accepted definition is valid
// and round-trips through String, and errors wrap ErrInvalid.
func FuzzParseItemDefs(f *testing.F) {
	for _, s := range []string{"0", "0:{TYPE=A,KIND=1}", " 1 : {x} ", "a:b", "1:{", "{}", "0:{}", "1:{a{b}}", "x/y", "\xff", "0:{\t}"} {
		f.Add(s, "1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		defs, err := ParseItemDefs([]string{a, b})
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, defs)
			return
		}
		require.Len(t, defs, 2)
		require.NotEqual(t, defs[0].ID, defs[1].ID)
		for _, d := range defs {
			require.NoError(t, ValidateName(NameItemID, string(d.ID)))
			require.False(t, strings.ContainsAny(d.Parameter, "{}"))
		}
		back, err := ParseItemDefs(FormatItemDefs(defs))
		require.NoError(t, err)
		require.Equal(t, defs, back)
	})
}

// FuzzSplitItemList: splitting never panics; accepted entries are non-empty,
// trimmed and brace-balanced, and joining them with commas splits back to
// the same entries.
func FuzzSplitItemList(f *testing.F) {
	for _, s := range []string{"0,1,2", "0:{A,B},1", "0,,1", "{", "}", "0:{A{B}}", " , ", "a:{,}, b:{,,}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := SplitItemList(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, entries)
			return
		}
		for _, e := range entries {
			require.NotEmpty(t, e)
			require.Equal(t, strings.TrimFunc(e, unicode.IsSpace), e)
			require.Equal(t, strings.Count(e, "{"), strings.Count(e, "}"))
		}
		if len(entries) == 0 {
			return
		}
		again, err := SplitItemList(strings.Join(entries, ","))
		require.NoError(t, err)
		require.True(t, slices.Equal(entries, again), "%q vs %q", entries, again)
	})
}
