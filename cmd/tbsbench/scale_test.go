package main

import (
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// items builds items "0".."n-1" owned as owners says (one entry per item;
// "" unowned), with req asking a handover of the items it names.
func items(owners []schedule.ServerID, req map[int]schedule.ServerID, removed ...int) []schedule.Item {
	out := make([]schedule.Item, len(owners))
	for i, o := range owners {
		out[i] = schedule.Item{ID: schedule.ItemID(strconv.Itoa(i)), CurServer: o, ReqServer: req[i]}
	}
	for _, i := range removed {
		out[i].Sts = schedule.ItemRemoved
	}
	return out
}

func TestCheckBalance(t *testing.T) {
	a, b, c, gone := schedule.ServerID("a"), schedule.ServerID("b"), schedule.ServerID("c"), schedule.ServerID("gone")
	ab := []schedule.ServerID{a, b}
	tests := []struct {
		name    string
		servers []schedule.ServerID
		items   []schedule.Item
		want    int
		maxPer  int
		ok      bool
		got     balance
	}{
		{"even split", ab, items([]schedule.ServerID{a, b, a, b}, nil), 2, 0, true,
			balance{Servers: 2, Active: 4, Owned: 4, Min: 2, Max: 2}},
		{"within ±1", ab, items([]schedule.ServerID{a, b, a}, nil), 2, 0, true,
			balance{Servers: 2, Active: 3, Owned: 3, Min: 1, Max: 2}},
		{"off by two", ab, items([]schedule.ServerID{a, a, a, b, a}, nil), 2, 0, false,
			balance{Servers: 2, Active: 5, Owned: 5, Min: 1, Max: 4}},
		{"a registered server without items, another with two", []schedule.ServerID{a, b, c}, items([]schedule.ServerID{a, b, a}, nil), 3, 0, false,
			balance{Servers: 3, Active: 3, Owned: 3, Min: 0, Max: 2}},
		{"fewer items than servers: an idle server is balanced", []schedule.ServerID{a, b, c}, items([]schedule.ServerID{a, b}, nil), 3, 0, true,
			balance{Servers: 3, Active: 2, Owned: 2, Min: 0, Max: 1}},
		{"an unowned item", ab, items([]schedule.ServerID{a, b, ""}, nil), 2, 0, false,
			balance{Servers: 2, Active: 3, Owned: 2, Min: 1, Max: 1}},
		{"an item owned by a server gone", ab, items([]schedule.ServerID{a, b, gone}, nil), 2, 0, false,
			balance{Servers: 2, Active: 3, Owned: 2, Min: 1, Max: 1}},
		{"a handover pending", ab, items([]schedule.ServerID{a, b, a, b}, map[int]schedule.ServerID{2: b}), 2, 0, false,
			balance{Servers: 2, Active: 4, Owned: 4, Pending: 1, Min: 2, Max: 2}},
		{"fewer servers registered than wanted", ab, items([]schedule.ServerID{a, b}, nil), 3, 0, false,
			balance{Servers: 2, Active: 2, Owned: 2, Min: 1, Max: 1}},
		{"more servers registered than wanted", []schedule.ServerID{a, b, c}, items([]schedule.ServerID{a, b, c}, nil), 2, 0, false,
			balance{Servers: 3, Active: 3, Owned: 3, Min: 1, Max: 1}},
		{"a server listed twice counts once", []schedule.ServerID{a, b, a}, items([]schedule.ServerID{a, b}, nil), 2, 0, true,
			balance{Servers: 2, Active: 2, Owned: 2, Min: 1, Max: 1}},
		{"removed items do not count", ab, items([]schedule.ServerID{a, b, "", a}, nil, 2), 2, 0, true,
			balance{Servers: 2, Active: 3, Owned: 3, Min: 1, Max: 2}},
		{"no active item is never balanced", ab, items([]schedule.ServerID{""}, nil, 0), 2, 0, false,
			balance{Servers: 2}},
		{"want 0 is never balanced", nil, items([]schedule.ServerID{""}, nil), 0, 0, false,
			balance{Active: 1}},
		{"cap binds: the rest stays unowned", ab, items([]schedule.ServerID{a, b, a, b, "", ""}, nil), 2, 2, true,
			balance{Servers: 2, Active: 6, Owned: 4, Min: 2, Max: 2}},
		{"cap binds but a server is below it", ab, items([]schedule.ServerID{a, b, a, "", "", ""}, nil), 2, 2, false,
			balance{Servers: 2, Active: 6, Owned: 3, Min: 1, Max: 2}},
		{"above the cap", ab, items([]schedule.ServerID{a, b, a, b, a}, nil), 2, 2, false,
			balance{Servers: 2, Active: 5, Owned: 5, Min: 2, Max: 3}},
		{"cap does not bind", ab, items([]schedule.ServerID{a, b, a}, nil), 2, 5, true,
			balance{Servers: 2, Active: 3, Owned: 3, Min: 1, Max: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := checkBalance(tc.servers, tc.items, tc.want, tc.maxPer)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.got, got)
		})
	}
}

func TestParseScaleSizes(t *testing.T) {
	tests := []struct {
		in   string
		want []scaleSize
		err  string
	}{
		{"10,2,1000", []scaleSize{{10, 2, 1000}}, ""},
		{" 10, 2 ,1000 ", []scaleSize{{10, 2, 1000}}, ""},
		{"10,2,1000;20,2,1000", []scaleSize{{10, 2, 1000}, {20, 2, 1000}}, ""},
		{"10,2,1000; 50,2,2000;", []scaleSize{{10, 2, 1000}, {50, 2, 2000}}, ""},
		{"10,2,1000 50,2,2000", nil, `size "10,2,1000 50,2,2000": want three numbers`},
		{"1,1,1", []scaleSize{{1, 1, 1}}, ""},
		{"", nil, "want sessions,taskTypes,items"},
		{";", nil, "want sessions,taskTypes,items"},
		{"10,2", nil, `size "10,2": want three numbers`},
		{"10,2,1000,5", nil, `size "10,2,1000,5": want three numbers`},
		{"10,0,1000", nil, `size "10,0,1000": "0" is not a positive number`},
		{"-1,2,1000", nil, `"-1" is not a positive number`},
		{"10,x,1000", nil, `"x" is not a positive number`},
		{"10,5,4", nil, `size "10,5,4": items (4) must be at least taskTypes (5)`},
		{"10,2,1000;10,2", nil, `size "10,2": want three numbers`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseScaleSizes(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// The flags as main declares them: -scale repeats and adds up, -read-path
// takes new, old or both.
func TestScaleFlags(t *testing.T) {
	tests := []struct {
		args  []string
		sizes scaleSizes
		path  readPath
		runs  []readPath
		err   string
	}{
		{nil, nil, readBoth, []readPath{readOld, readNew}, ""},
		{[]string{"-scale", "10,2,1000", "-scale", "20,2,1000;50,2,2000", "-read-path", "old"},
			scaleSizes{{10, 2, 1000}, {20, 2, 1000}, {50, 2, 2000}}, readOld, []readPath{readOld}, ""},
		{[]string{"-read-path", "new"}, nil, readNew, []readPath{readNew}, ""},
		{[]string{"-read-path", "both"}, nil, readBoth, []readPath{readOld, readNew}, ""},
		{[]string{"-read-path", "NEW"}, nil, "", nil, `-read-path "NEW": want new, old or both`},
		{[]string{"-read-path", ""}, nil, "", nil, `-read-path "": want new, old or both`},
		{[]string{"-scale", "10,2"}, nil, "", nil, `invalid value "10,2" for flag -scale: size "10,2": want three numbers`},
	}
	for _, tc := range tests {
		t.Run(fmtArgs(tc.args), func(t *testing.T) {
			fs := flag.NewFlagSet("tbsbench", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var sizes scaleSizes
			fs.Var(&sizes, "scale", "")
			pathArg := fs.String("read-path", string(readBoth), "")
			err := fs.Parse(tc.args)
			var path readPath
			if err == nil {
				path, err = parseReadPath(*pathArg)
			}
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.sizes, sizes)
			assert.Equal(t, tc.path, path)
			assert.Equal(t, tc.runs, path.runs())
		})
	}
}

func fmtArgs(args []string) string {
	if len(args) == 0 {
		return "defaults"
	}
	s := ""
	for _, a := range args {
		s += a + " "
	}
	return s
}

func TestScaleSizesString(t *testing.T) {
	s := scaleSizes{{10, 2, 1000}, {20, 2, 1000}}
	assert.Equal(t, "10,2,1000;20,2,1000", s.String())
	back, err := parseScaleSizes(s.String())
	require.NoError(t, err)
	assert.Equal(t, []scaleSize(s), back)
	assert.Equal(t, "10x2x1000", s[0].key())
}

func TestParseWchc(t *testing.T) {
	out := "0x100000a1b2c0000\n\t/tbsbench/scale-1/baseTaskType/scale0/scale0/taskItem/1\n" +
		"\t/tbsbench/scale-1/baseTaskType/scale0/scale0/taskItem/2\n\t/tbsbench/scale-1/baseTaskType/scale1/scale1/server\n" +
		"\t/tbsbench/scale-1/strategy/scale0-s\n\n0x100000a1b2c0001\n\t/tbsbench/scale-1/factory\n"
	got, err := parseWchc(out, []string{"scale0", "scale1"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	first := got[0x100000a1b2c0000]
	require.NotNil(t, first)
	assert.Equal(t, map[string]int{"scale0": 2, "scale1": 1}, first.byType)
	assert.Equal(t, 1, first.other, "the strategy scale0-s is not the task type scale0")
	second := got[0x100000a1b2c0001]
	require.NotNil(t, second)
	assert.Empty(t, second.byType)
	assert.Equal(t, 1, second.other)

	_, err = parseWchc("\t/a/b\n", nil)
	assert.ErrorContains(t, err, `path "/a/b" before any session id`)
	_, err = parseWchc("zzz\n", nil)
	assert.ErrorContains(t, err, `"zzz" is neither a session id nor an indented path`)
}

// The timeline's summary follows an item through a handover cycle and
// tells the observer's bound and decision from the last ownership change.
func TestTimelineSummaryCycles(t *testing.T) {
	tl := newTimeline()
	s := time.Second
	tl.recs = []tlRec{
		{at: 0, sess: -1, src: "phase", what: "start → all balanced"},
		{at: s, sess: 0, src: "event", what: "handover", runtime: "rt", ids: []string{"7"}},
		{at: s + 100*time.Millisecond, sess: 0, src: "event", what: "handover", runtime: "rt", ids: []string{"7"}},
		{at: 2 * s, sess: 0, src: "event", what: "release", runtime: "rt", ids: []string{"7"}},
		{at: 2*s + 500*time.Millisecond, sess: 1, src: "event", what: "acquire", runtime: "rt", ids: []string{"7"}},
		{at: 3 * s, sess: -1, src: "seen", what: "observer saw the balance", dur: 2*s + 600*time.Millisecond},
	}
	var b strings.Builder
	tl.summary(&b)
	out := b.String()
	for _, want := range []string{
		"observer saw the balance: at ≤ 2.60 s, known at +3.00 s; the last ownership change was at +2.50 s: the observer's bound 0.10 s after it, its decision 0.50 s",
		"handover cycles completed: 1 (1 asks re-targeted",
		"asked → released (owner notices, batch boundary, write): median 1000 ms",
		"released → acquired (new owner notices):               median 500 ms",
		"slowest: item 7 of rt asked +1.00 s, released +2.00 s by s00, acquired +2.50 s by s01",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestUnreachedRatio(t *testing.T) {
	cases := []struct {
		oldReached, newReached bool
		oldTook, newTook       time.Duration
		want                   string
	}{
		{false, true, 60 * time.Second, 2 * time.Second, "> ×30.0 (old not reached after 60 s)"},
		{true, false, 5 * time.Second, 60 * time.Second, "– (new not reached)"},
		{false, false, 60 * time.Second, 60 * time.Second, "– (not reached on both)"},
	}
	for _, c := range cases {
		if got := unreachedRatio(c.oldReached, c.newReached, c.oldTook, c.newTook); got != c.want {
			t.Errorf("unreachedRatio(%v, %v, %v, %v) = %q, want %q", c.oldReached, c.newReached, c.oldTook, c.newTook, got, c.want)
		}
	}
}
