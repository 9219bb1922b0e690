package ctl

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestReadEntriesForms(t *testing.T) {
	for _, tc := range []struct {
		name, in, format string
		want             []string // kind name hasSts
	}{
		{"single task type, YAML", "baseTaskType: a\ndealBeanName: d\ntaskItems: [\"0\"]\n", formatOurs, []string{"taskType a false"}},
		{"single strategy, JSON", `{"strategyName":"s","taskName":"a","sts":"pause"}`, formatOurs, []string{"strategy s true"}},
		{"JSON list", `[{"strategyName":"s","taskName":"a"},{"baseTaskType":"a","dealBeanName":"d"}]`, formatOurs, []string{"strategy s false", "taskType a false"}},
		{"JSON values in a row", `{"strategyName":"s","taskName":"a"} {"strategyName":"t","taskName":"a"}`, formatOurs, []string{"strategy s false", "strategy t false"}},
		{"map of lists", `{"exportedFrom":"/x","taskTypes":[{"baseTaskType":"a"}],"strategies":[{"strategyName":"s"}]}`, formatOurs, []string{"taskType a false", "strategy s false"}},
		{"YAML documents", "baseTaskType: a\n---\n---\nstrategies:\n  - strategyName: s\n", formatOurs, []string{"taskType a false", "strategy s false"}},
		{"Java console lines", `{"rootPath":"/r","configType":"baseTaskType","name":"a","value":"{\"baseTaskType\":\"a\",\"sts\":\"resume\"}"}` + "\n\n" +
			`{"rootPath":"/r","configType":"strategy","name":"s","value":{"strategyName":"s"}}`, formatAuto, []string{"taskType a true", "strategy s false"}},
		{"Java record without its own name", `{"rootPath":"/r","configType":"strategy","name":"s","value":"{\"taskName\":\"a\"}"}`, formatAuto, []string{"strategy s false"}},
		{"later console lines", "TASK{\"baseTaskType\":\"a\"}\nSTRATEGY{\"strategyName\":\"s\",\"sts\":\"pause\"}\n", formatAuto, []string{"taskType a false", "strategy s true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, _, err := readEntries("f", []byte(tc.in), tc.format)
			require.NoError(t, err)
			var got []string
			for _, e := range es {
				got = append(got, e.kind()+" "+e.name()+" "+map[bool]string{true: "true", false: "false"}[e.hasSts])
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReadEntriesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, format, want string }{
		{"empty", "", formatOurs, "f: no task type or strategy in the file"},
		{"scalar", "42", formatOurs, "f: expected a map or a list, got int"},
		{"no name key", `[{"assignNum":1}]`, formatOurs, "f: [0]: neither baseTaskType nor strategyName is set"},
		{"list not a list", `{"taskTypes":{"baseTaskType":"a"}}`, formatOurs, "f: taskTypes must be a list"},
		{"bad JSON", `{"strategyName":`, formatOurs, "f: not valid JSON (document 1)"},
		{"wrong field type", `{"strategyName":"s","IPList":"a,b"}`, formatOurs, "IPList"},
		{"java bad line", "{\"configType\":\"strategy\",\"name\":\"s\",\"value\":\"{}\"}\nnot json\n", formatJava, "f: line 2: not a JSON record"},
		{"java no value", `{"configType":"strategy","name":"s"}`, formatJava, "f: line 1: value: missing (node \"s\")"},
		{"unknown format", "{}", "xml", `unknown format "xml"`},
		// Found by FuzzReadEntries: a cyclic alias overflowed the stack.
		{"YAML alias cycle", "a: &x\n  b: *x\n", formatOurs, "f: not valid YAML (document 1): line 2, column 6: alias *x refers to a value that contains it"},
		{"YAML alias bomb", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n", formatOurs, "the aliases expand to more than 100000 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readEntries("f", []byte(tc.in), tc.format)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestWriteJavaReadsBack(t *testing.T) {
	tt := schedule.DefaultTaskType("a")
	tt.DealBeanName, tt.TaskItems, tt.TaskParameter = "d", []string{"0:{X=1,Y=2}", "1"}, "A<B & C>D"
	st := schedule.DefaultStrategy("s")
	st.TaskName, st.Sts = "a$TEST", schedule.StsPause
	var buf bytes.Buffer
	require.NoError(t, writeJava(&buf, "/root", configFile{TaskTypes: []schedule.TaskType{tt}, Strategies: []schedule.Strategy{st}}))
	assert.True(t, looksJava(buf.Bytes()))
	es, format, err := readEntries("f", buf.Bytes(), formatAuto)
	require.NoError(t, err)
	assert.Equal(t, formatJava, format)
	require.Len(t, es, 2)
	assert.Equal(t, tt, *es[0].tt)
	assert.Equal(t, st, *es[1].st)

	for _, out := range []string{"json", "yaml"} {
		buf.Reset()
		require.NoError(t, writeOurs(&buf, configFile{TaskTypes: []schedule.TaskType{tt}, Strategies: []schedule.Strategy{st}}, out))
		assert.False(t, looksJava(buf.Bytes()), out)
		es, _, err := readEntries("f", buf.Bytes(), formatAuto)
		require.NoError(t, err, out)
		require.Len(t, es, 2, out)
		assert.Equal(t, tt, *es[0].tt, out)
		assert.Equal(t, st, *es[1].st, out)
	}
}

func FuzzReadEntries(f *testing.F) {
	f.Add([]byte(`{"taskTypes":[{"baseTaskType":"a"}],"strategies":[{"strategyName":"s"}]}`))
	f.Add([]byte("baseTaskType: a\n---\nstrategyName: s\n"))
	f.Add([]byte(`{"rootPath":"/r","configType":"strategy","name":"s","value":"{\"strategyName\":\"s\"}"}`))
	f.Add([]byte("TASK{\"baseTaskType\":\"a\"}\n"))
	f.Add([]byte(`[{"strategyName":"s"},{"baseTaskType":"a","threadNum":4}]`))
	f.Add([]byte("taskTypes:\n  - &x {baseTaskType: a}\nstrategies:\n  - <<: *x\n    strategyName: s\n"))
	f.Add([]byte(`{"taskTypes": [{"baseTaskType": "x",` + "\n" + ` "threadNumber": 4,,}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, _, err := readEntries("f", data, formatAuto)
		if err != nil {
			return
		}
		for _, e := range es {
			if (e.tt == nil) == (e.st == nil) {
				t.Fatalf("entry %s holds %v and %v", e.where, e.tt, e.st)
			}
			// An unknown key is never accepted silently.
			for k := range e.at {
				if !slices.Contains(knownFields[e.kind()], k) {
					t.Fatalf("entry %s: unknown key %q accepted", e.where, k)
				}
			}
		}
	})
}
