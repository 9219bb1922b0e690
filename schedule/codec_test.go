package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readCodecTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestDecodeJavaTaskTypes decodes documents as TBSchedule's Java console
// writes them (Gson: '=' escaped as \u003d, doubles as 1.0, nulls, fields of
// other versions) and checks the struct, validation, and the round trip.
func TestDecodeJavaTaskTypes(t *testing.T) {
	demoItems := make([]string, 10)
	for i := range demoItems {
		demoItems[i] = string(rune('0'+i)) + ":{TYPE=A,KIND=" + []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}[i] + "}"
	}
	tests := []struct {
		file string
		want TaskType
	}{
		{"tasktype_demo_java.json", TaskType{
			BaseTaskType:               "DemoTask",
			HeartBeatRate:              2 * time.Second,
			JudgeDeadInterval:          10 * time.Second,
			SleepTimeNoData:            500 * time.Millisecond,
			SleepTimeInterval:          0,
			FetchDataNumber:            500,
			ExecuteNumber:              1,
			ThreadNumber:               5,
			ProcessorType:              ProcessorSleep,
			ExpireOwnSignInterval:      24 * time.Hour,
			DealBeanName:               "demoTaskBean",
			TaskParameter:              "AREA=杭州,YEAR>30",
			TaskItems:                  demoItems,
			Sts:                        "resume",
			FetchDataCountEachSchedule: -1,
		}},
		{"tasktype_window_floats.json", TaskType{
			BaseTaskType:                 "OrderSync",
			HeartBeatRate:                5 * time.Second,
			JudgeDeadInterval:            60 * time.Second,
			SleepTimeNoData:              1500 * time.Millisecond,
			SleepTimeInterval:            100 * time.Millisecond,
			FetchDataNumber:              1000,
			ExecuteNumber:                10,
			ThreadNumber:                 8,
			ProcessorType:                ProcessorNotSleep,
			PermitRunStartTime:           "startrun:0 0 1 * * ?",
			PermitRunEndTime:             "0 30 5 * * ?",
			ExpireOwnSignInterval:        12 * time.Hour,
			DealBeanName:                 "orderSyncBean",
			TaskParameter:                "",
			TaskItems:                    []string{"0", "1", " 2 : { REGION=华东, SHARD=2 } ", "10"},
			MaxTaskItemsOfOneThreadGroup: 2,
			Sts:                          "pause",
			FetchDataCountEachSchedule:   5,
		}},
		{"tasktype_minimal_java.json", func() TaskType {
			v := DefaultTaskType("MinimalTask")
			v.DealBeanName = "minimalBean"
			v.TaskItems = []string{"0", "1", "2"}
			v.PermitRunEndTime = "-1"
			return v
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got TaskType
			require.NoError(t, json.Unmarshal(readCodecTestdata(t, tt.file), &got))
			assert.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())

			enc, err := json.Marshal(got)
			require.NoError(t, err)
			var back TaskType
			require.NoError(t, json.Unmarshal(enc, &back))
			assert.Equal(t, got, back)

			// A pointer encodes the same.
			encPtr, err := json.Marshal(&got)
			require.NoError(t, err)
			assert.JSONEq(t, string(enc), string(encPtr))
		})
	}
}

func TestDecodeJavaStrategies(t *testing.T) {
	tests := []struct {
		file string
		want Strategy
	}{
		{"strategy_demo_java.json", Strategy{
			StrategyName:      "DemoTask-Strategy",
			IPList:            []string{"127.0.0.1"},
			NumOfSingleServer: 1,
			AssignNum:         10,
			Kind:              KindSchedule,
			TaskName:          "DemoTask$TEST",
			TaskParameter:     "中国",
			Sts:               "resume",
		}},
		{"strategy_bean_java.json", Strategy{
			StrategyName:      "ReportSingleton",
			IPList:            []string{"10.0.0.5", "host-b.example.com", "fe80::1"},
			NumOfSingleServer: 0,
			AssignNum:         1,
			Kind:              KindBean,
			TaskName:          "reportBean",
			TaskParameter:     "",
			Sts:               "pause",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got Strategy
			require.NoError(t, json.Unmarshal(readCodecTestdata(t, tt.file), &got))
			assert.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())

			enc, err := json.Marshal(got)
			require.NoError(t, err)
			var back Strategy
			require.NoError(t, json.Unmarshal(enc, &back))
			assert.Equal(t, got, back)
		})
	}
}

// TestEncodeTaskTypeFieldNames pins the encoded form: TBSchedule's names,
// order and units.
func TestEncodeTaskTypeFieldNames(t *testing.T) {
	v := DefaultTaskType("orders")
	v.DealBeanName = "orderDeal"
	v.TaskItems = []string{"0:{A=1,B=2}", "1"}
	v.TaskParameter = "p"
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, `{"baseTaskType":"orders","heartBeatRate":5000,"judgeDeadInterval":60000,"sleepTimeNoData":500,`+
		`"sleepTimeInterval":0,"fetchDataNumber":500,"executeNumber":1,"threadNumber":5,"processorType":"SLEEP",`+
		`"expireOwnSignInterval":1,"dealBeanName":"orderDeal","taskParameter":"p","taskKind":"static",`+
		`"taskItems":["0:{A=1,B=2}","1"],"maxTaskItemsOfOneThreadGroup":0,"version":0,"sts":"resume",`+
		`"fetchDataCountEachSchedule":-1}`, string(b))

	v.PermitRunStartTime = "startrun:0 0 1 * * ?"
	v.PermitRunEndTime = "-1"
	v.TimeZone = "Asia/Shanghai"
	v.ExpireOwnSignInterval = 36 * time.Hour
	v.TaskItems = nil
	b, err = json.Marshal(v)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, `"processorType":"SLEEP","permitRunStartTime":"startrun:0 0 1 * * ?","permitRunEndTime":"-1","expireOwnSignInterval":1.5,`)
	assert.Contains(t, s, `"taskItems":[]`)
	assert.True(t, strings.HasSuffix(s, `"fetchDataCountEachSchedule":-1,"timeZone":"Asia/Shanghai"}`), s)
}

func TestEncodeStrategyFieldNames(t *testing.T) {
	s := DefaultStrategy("s1")
	s.TaskName = "orders$TEST"
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Equal(t, `{"strategyName":"s1","IPList":["127.0.0.1"],"numOfSingleServer":0,"assignNum":1,`+
		`"kind":"Schedule","taskName":"orders$TEST","taskParameter":"","sts":"resume"}`, string(b))
	s.IPList = nil
	b, err = json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"IPList":[]`)
}

func TestDecodeTaskTypeLenient(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, v TaskType)
	}{
		{"missing fields get defaults", `{"baseTaskType":"a"}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, DefaultTaskType("a"), v)
		}},
		{"float numbers", `{"heartBeatRate":5000.0,"threadNumber":3.0,"version":1e3,"fetchDataCountEachSchedule":-1.0}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, 5*time.Second, v.HeartBeatRate)
			assert.Equal(t, 3, v.ThreadNumber)
			assert.Equal(t, -1, v.FetchDataCountEachSchedule)
		}},
		{"null numbers keep defaults", `{"heartBeatRate":null,"threadNumber":null,"expireOwnSignInterval":null}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, DefaultHeartBeatRate, v.HeartBeatRate)
			assert.Equal(t, DefaultThreadNumber, v.ThreadNumber)
			assert.Equal(t, DefaultExpireOwnSignInterval, v.ExpireOwnSignInterval)
		}},
		{"null strings read as empty", `{"taskParameter":null,"dealBeanName":null,"permitRunStartTime":null}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, "", v.TaskParameter)
			assert.Equal(t, "", v.DealBeanName)
			assert.Equal(t, "", v.PermitRunStartTime)
		}},
		{"null enums read as defaults", `{"processorType":null,"taskKind":null,"sts":null}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, ProcessorSleep, v.ProcessorType)
			assert.Equal(t, "resume", v.Sts)
		}},
		{"enums case-insensitive", `{"processorType":"notSleep","taskKind":"DYNAMIC","sts":"Pause"}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, ProcessorNotSleep, v.ProcessorType)
			assert.Equal(t, "pause", v.Sts)
		}},
		{"unknown enum kept for Validate", `{"processorType":"fast"}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, ProcessorType("fast"), v.ProcessorType)
		}},
		{"TBSchedule's taskKind and version are accepted and ignored", `{"taskKind":"dynamic","version":7}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, DefaultTaskType(""), v)
		}},
		{"blank crons read as empty", `{"permitRunStartTime":"  ","permitRunEndTime":""}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, "", v.PermitRunStartTime)
			assert.Equal(t, "", v.PermitRunEndTime)
		}},
		{"fractional days", `{"expireOwnSignInterval":0.25}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, 6*time.Hour, v.ExpireOwnSignInterval)
		}},
		{"integral days", `{"expireOwnSignInterval":2}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, 48*time.Hour, v.ExpireOwnSignInterval)
		}},
		{"empty and null items", `{"taskItems":[]}`, func(t *testing.T, v TaskType) {
			assert.Nil(t, v.TaskItems)
		}},
		{"null item element reads as empty", `{"taskItems":["0",null]}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, []string{"0", ""}, v.TaskItems)
		}},
		{"unknown fields ignored", `{"baseTaskType":"a","createTime":"x","extra":{"a":[1,2]},"BaseTaskType":"ignored"}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, "a", v.BaseTaskType)
		}},
		{"keys are case-sensitive", `{"HEARTBEATRATE":"x"}`, func(t *testing.T, v TaskType) {
			assert.Equal(t, DefaultHeartBeatRate, v.HeartBeatRate)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v TaskType
			require.NoError(t, json.Unmarshal([]byte(tt.doc), &v))
			tt.check(t, v)
		})
	}
}

func TestDecodeTaskTypeErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr []string
	}{
		{"string for a number", `{"baseTaskType":"a","heartBeatRate":"5000"}`,
			[]string{`schedule: taskType "a": heartBeatRate must be a number, got string`}},
		{"fractional milliseconds", `{"heartBeatRate":5000.5}`, []string{`heartBeatRate (5000.5) must be a whole number`}},
		{"fractional int", `{"threadNumber":2.5}`, []string{`threadNumber (2.5) must be a whole number`}},
		{"int out of range", `{"threadNumber":1e20}`, []string{`threadNumber (1e20) is out of range`}},
		{"millis out of range", `{"judgeDeadInterval":9300000000000}`, []string{`judgeDeadInterval (9300000000000) is out of range`}},
		{"huge integer", `{"fetchDataNumber":123456789012345678901234567890}`, []string{`fetchDataNumber (123456789012345678901234567890) is out of range`}},
		{"days out of range", `{"expireOwnSignInterval":1e300}`, []string{`expireOwnSignInterval (1e300) is out of range`}},
		{"days as string", `{"expireOwnSignInterval":"1"}`, []string{`expireOwnSignInterval must be a number of days, got string`}},
		{"number for a string", `{"dealBeanName":5}`, []string{`dealBeanName must be a string, got number`}},
		{"bool for a string", `{"processorType":true}`, []string{`processorType must be a string, got boolean`}},
		{"object for a string", `{"taskParameter":{"a":1}}`, []string{`taskParameter must be a string, got object`}},
		{"string for items", `{"taskItems":"0,1"}`, []string{`taskItems must be an array of strings, got string`}},
		{"number in items", `{"taskItems":["0",1]}`, []string{`taskItems[1] must be a string, got number`}},
		{"array document", `[1]`, []string{`schedule: taskType: document must be a JSON object, got array`}},
		{"string document", `"x"`, []string{`document must be a JSON object, got string`}},
		{"every bad field reported", `{"baseTaskType":"a","threadNumber":"5","sts":1,"taskItems":{}}`, []string{
			`schedule: taskType "a": threadNumber must be a number, got string`,
			`schedule: taskType "a": taskItems must be an array of strings, got object`,
			`schedule: taskType "a": sts must be a string, got number`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validTaskTypeForTest()
			before := v
			err := json.Unmarshal([]byte(tt.doc), &v)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, before, v, "a failed decode leaves the value unchanged")
		})
	}
}

func TestDecodeNullDocument(t *testing.T) {
	v := validTaskTypeForTest()
	require.NoError(t, json.Unmarshal([]byte("null"), &v))
	assert.Equal(t, validTaskTypeForTest(), v)
	s := validStrategyForTest()
	require.NoError(t, json.Unmarshal([]byte(" null "), &s))
	assert.Equal(t, validStrategyForTest(), s)
}

func TestDecodeStrategy(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    func() Strategy
		wantErr string
	}{
		{"missing fields get defaults", `{"strategyName":"s","taskName":"t"}`, func() Strategy {
			s := DefaultStrategy("s")
			s.TaskName = "t"
			return s
		}, ""},
		{"kind case-insensitive", `{"kind":"bean"}`, func() Strategy {
			s := DefaultStrategy("")
			s.Kind = KindBean
			return s
		}, ""},
		{"Java kind kept for Validate", `{"kind":"Java"}`, func() Strategy {
			s := DefaultStrategy("")
			s.Kind = "Java"
			return s
		}, ""},
		{"null IPList", `{"IPList":null}`, func() Strategy {
			s := DefaultStrategy("")
			s.IPList = nil
			return s
		}, ""},
		{"float counts", `{"assignNum":3.0,"numOfSingleServer":2.0}`, func() Strategy {
			s := DefaultStrategy("")
			s.AssignNum, s.NumOfSingleServer = 3, 2
			return s
		}, ""},
		{"IPList as string", `{"strategyName":"s","IPList":"127.0.0.1"}`, nil,
			`schedule: strategy "s": IPList must be an array of strings, got string`},
		{"assignNum as string", `{"assignNum":"2"}`, nil, `assignNum must be a number, got string`},
		{"fractional assignNum", `{"assignNum":1.5}`, nil, `assignNum (1.5) must be a whole number`},
		{"not an object", `7`, nil, `schedule: strategy: document must be a JSON object, got number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Strategy
			err := json.Unmarshal([]byte(tt.doc), &s)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want(), s)
		})
	}
}

// TestDaysRoundTrip: any duration that came from a decoded number of days
// encodes to a number that decodes to the same duration.
func TestDaysRoundTrip(t *testing.T) {
	for _, f := range []float64{1, 1.0 / 3, 0.1, 1e-9, 1e-15, 365.2425, 99999.99999, 106000.123456789, 3.14159e-5} {
		d, ok := durationOfDays(f)
		require.True(t, ok)
		back, ok := durationOfDays(daysOf(d))
		require.True(t, ok)
		assert.Equal(t, d, back, "days %v", f)
	}
	for _, d := range []time.Duration{time.Nanosecond, time.Hour, 24 * time.Hour, 7*24*time.Hour + 1} {
		back, ok := durationOfDays(daysOf(d))
		require.True(t, ok)
		assert.Equal(t, d, back)
	}
}

func taskTypeFuzzSeeds(f *testing.F) {
	for _, name := range []string{"tasktype_demo_java.json", "tasktype_window_floats.json", "tasktype_minimal_java.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`null`, `{}`, `[]`, `{"heartBeatRate":1e400}`, `{"expireOwnSignInterval":-0.0}`, `{"taskItems":[null]}`} {
		f.Add([]byte(s))
	}
}

// FuzzDecodeTaskType: decoding never panics; errors wrap ErrInvalid; a
// document that decodes and validates re-encodes to one that decodes to an
// equal, still valid value.
func FuzzDecodeTaskType(f *testing.F) {
	taskTypeFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v TaskType
		if err := json.Unmarshal(doc, &v); err != nil {
			var se *json.SyntaxError
			if !errors.As(err, &se) {
				require.ErrorIs(t, err, ErrInvalid)
			}
			return
		}
		if v.Validate() != nil {
			return
		}
		enc, err := json.Marshal(v)
		require.NoError(t, err)
		var back TaskType
		require.NoError(t, json.Unmarshal(enc, &back), "%s", enc)
		require.Equal(t, v, back)
		require.NoError(t, back.Validate())
	})
}

// FuzzDecodeStrategy: as FuzzDecodeTaskType, for strategies.
func FuzzDecodeStrategy(f *testing.F) {
	for _, name := range []string{"strategy_demo_java.json", "strategy_bean_java.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`null`, `{}`, `{"IPList":[]}`, `{"assignNum":1e19}`, `{"kind":"bean","taskName":"x$y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v Strategy
		if err := json.Unmarshal(doc, &v); err != nil {
			var se *json.SyntaxError
			if !errors.As(err, &se) {
				require.ErrorIs(t, err, ErrInvalid)
			}
			return
		}
		if v.Validate() != nil {
			return
		}
		enc, err := json.Marshal(v)
		require.NoError(t, err)
		var back Strategy
		require.NoError(t, json.Unmarshal(enc, &back), "%s", enc)
		require.Equal(t, v, back)
		require.NoError(t, back.Validate())
	})
}

// BenchmarkTaskTypeCodec decodes and validates a task type of 2,000 items:
// every process reads each of its task types when it starts a manager for
// it, so a big one is decoded by every process at once.
func BenchmarkTaskTypeCodec(b *testing.B) {
	tt := DefaultTaskType("big")
	tt.DealBeanName = "deal"
	for i := range 2000 {
		tt.TaskItems = append(tt.TaskItems, fmt.Sprintf("%d:{TYPE=A,KIND=%d}", i, i%10))
	}
	data, err := json.Marshal(tt)
	require.NoError(b, err)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got TaskType
			if err := json.Unmarshal(data, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tt.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
