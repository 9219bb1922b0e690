package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// The quickstart's report on memstore: its facts are checked against each
// other, not against the printed text alone.
func TestQuickstartMemstore(t *testing.T) {
	o := defaultOptions()
	checkRun(t, o)
}

// The same scenario on a real ZooKeeper server.
func TestQuickstartZooKeeper(t *testing.T) {
	c := zktest.Shared(t)
	o := defaultOptions()
	o.zk = c.Servers()
	o.root = c.UniqueRoot(t)
	checkRun(t, o)
}

func checkRun(t *testing.T, o options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := run(ctx, o, &out)
	t.Log("\n" + out.String())
	require.NoError(t, err)

	// Every record exactly once, counted from the table.
	assert.True(t, rep.OK(), "report not OK")
	assert.Equal(t, o.records, rep.Produced)
	assert.Equal(t, rep.Produced, rep.Processed)
	assert.Equal(t, rep.Produced, rep.Executions)
	assert.Empty(t, rep.Duplicates)
	assert.Empty(t, rep.Missing)

	// Who owned what: before the kill the three factories owned the 10
	// items between them, each once; at the end the two live ones did.
	require.Len(t, rep.Factories, 3)
	var before, after []string
	sum := 0
	for i, f := range rep.Factories {
		assert.NotEmpty(t, f.Server, "%s has no server id", f.Name)
		assert.Equal(t, i == killedIndex, f.Killed)
		assert.GreaterOrEqual(t, len(f.ItemsBefore), 3, "%s before the kill", f.Name)
		before = append(before, f.ItemsBefore...)
		if f.Killed {
			assert.Empty(t, f.ItemsAfter)
			assert.Equal(t, f.ItemsBefore, rep.MovedItems)
		} else {
			assert.NotEmpty(t, f.ItemsAfter, "%s owns nothing at the end", f.Name)
		}
		after = append(after, f.ItemsAfter...)
		sum += f.Records
	}
	all := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	sortItems(before)
	sortItems(after)
	assert.Equal(t, all, before)
	assert.Equal(t, all, after)
	assert.Equal(t, rep.Produced, sum, "records per factory do not add up")

	// Takeover happened (the killed factory's items are owned by the others
	// above), and not before the session could expire (a dead process's
	// session is only expired after its timeout). How soon after is a figure
	// for BENCHMARKS.md, not a test.
	require.NotZero(t, rep.SessionTimeout)
	assert.Positive(t, rep.LockDelay, "the killed thread group's published lock delay")
	assert.GreaterOrEqual(t, rep.Takeover, rep.SessionTimeout/2)
	t.Logf("takeover after %v (session timeout %v)", rep.Takeover, rep.SessionTimeout)

	text := out.String()
	assert.Contains(t, text, "KILL factory-b")
	assert.Contains(t, text, "takeover")
	assert.Contains(t, text, "every record processed exactly once")
	assert.False(t, slices.Contains(strings.Fields(text), "FAILED:"))
}

func TestQuickstartFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, o.zk, "memstore by default")
	o, err = parseFlags([]string{"-zk", "127.0.0.1:2181, 127.0.0.2:2181"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:2181", "127.0.0.2:2181"}, o.zk)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"few records", []string{"-records", "5"}, "-records 5"},
		{"empty server", []string{"-zk", "a:1,,b:2"}, "empty server"},
		{"bad root", []string{"-zk", "a:1", "-root", "x/"}, "-root"},
		{"session", []string{"-session", "10ms"}, "-session"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"-nope"}, "-nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
