package schedule

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/plan"
)

// ServerID identifies one registered schedule server (thread group). It is the
// name of its ephemeral-sequential node: "<taskType>$<ip>$<uuid>$<seq10>".
type ServerID string

// FactoryID identifies one registered manager factory (process). It is the
// name of its ephemeral-sequential node: "<ip>$<hostName>$<uuid>$<seq10>".
type FactoryID string

// ItemID is a task item's id, such as "0".
type ItemID string

// Version is the version of a stored node, used for compare-and-set.
type Version int32

// Time is a time.Time that encodes as RFC 3339 with milliseconds in UTC
// ("2026-11-21T10:05:02.123Z"), the format of every time in the tree.
// The zero Time encodes as "".
type Time struct{ time.Time }

// TimeFormat is the layout of every time stored in the tree.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.UTC().Format(TimeFormat))
}

// UnmarshalJSON implements json.Unmarshaler. It accepts RFC 3339 (with or
// without fractional seconds), TBSchedule's "2006-01-02 15:04:05" (read as
// UTC), and "" or null as the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time must be a string: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("time %q is neither RFC 3339 nor \"yyyy-MM-dd HH:mm:ss\"", s)
}

// Server is the record of one schedule server, TBSchedule's ScheduleServer,
// rewritten at every heartbeat. UUID and Seq are derived from the node name
// when read and are not part of the stored data.
type Server struct {
	UUID               ServerID `json:"uuid"`
	Seq                int64    `json:"-"`
	TaskType           string   `json:"taskType"`
	BaseTaskType       string   `json:"baseTaskType"`
	OwnSign            string   `json:"ownSign"`
	IP                 string   `json:"ip"`
	HostName           string   `json:"hostName"`
	ThreadNum          int      `json:"threadNum"`
	RegisterTime       Time     `json:"registerTime"`
	HeartBeatTime      Time     `json:"heartBeatTime"`
	LastFetchDataTime  Time     `json:"lastFetchDataTime"`
	DealInfoDesc       string   `json:"dealInfoDesc"`
	NextRunStartTime   string   `json:"nextRunStartTime"`
	NextRunEndTime     string   `json:"nextRunEndTime"`
	Version            int64    `json:"version"`
	IsRegister         bool     `json:"isRegister"`
	ManagerFactoryUUID string   `json:"managerFactoryUUID"`
	// Ours.
	Session     int64  `json:"session,omitempty"`
	WindowState string `json:"windowState,omitempty"`
	Message     string `json:"message,omitempty"`
	// TakeoverDelay is the server's lock delay (ManagerConfig.LockDelay):
	// how long, in milliseconds, a leader waits after this server's node
	// vanished before it grants the items the server still owned to others.
	// -1 means none; 0 (a record without it) means the leader's own.
	TakeoverDelay int64 `json:"takeoverDelay,omitempty"`
	// Holds are the lock-delay holds under way, published by the runtime's
	// leader (empty on other servers): the items of each vanished server it
	// does not grant elsewhere before Until. Operator tools read them to
	// tell a takeover in progress from a fault.
	Holds []ServerHold `json:"holds,omitempty"`
}

// ServerHold is one lock-delay hold a leader publishes (Server.Holds).
type ServerHold struct {
	// Server is the vanished server; HostName its host, as its record said.
	Server   ServerID `json:"server"`
	HostName string   `json:"hostName,omitempty"`
	// Items is how many items it still owned when the leader last looked.
	Items int `json:"items"`
	// Until is when the hold ends, in cluster time (the store's clock).
	Until Time `json:"until"`
}

// Factory is the record of one registered manager factory (process).
// UUID and Seq are derived from the node name when read.
type Factory struct {
	UUID         FactoryID `json:"uuid"`
	Seq          int64     `json:"-"`
	IP           string    `json:"ip"`
	HostName     string    `json:"hostName"`
	ProcessUUID  string    `json:"processUUID"`
	RegisterTime Time      `json:"registerTime"`
	Session      int64     `json:"session,omitempty"`
}

// FactoryState is the durable, operator-controlled state of a machine
// (identified by ip and hostName); it survives sessions and restarts.
type FactoryState struct {
	Stopped bool   `json:"stopped"`
	By      string `json:"by,omitempty"`
	At      Time   `json:"at"`
	Reason  string `json:"reason,omitempty"`
}

// StrategyRuntime is a factory's registration under a strategy, TBSchedule's
// ScheduleStrategyRunntime: how many thread groups the factory must run
// (RequestNum, written by the strategy leader) and runs (CurrentNum).
type StrategyRuntime struct {
	StrategyName string    `json:"strategyName"`
	UUID         FactoryID `json:"uuid"`
	RequestNum   int       `json:"requestNum"`
	CurrentNum   int       `json:"currentNum"`
	Message      string    `json:"message"`
	// TakeoverDelay is the factory's lock delay for Bean copies
	// (strategy.Config.LockDelay): how long, in milliseconds, the strategy's
	// leader counts the copies this factory ran as still running after its
	// registration vanished with its factory. -1 means none; 0 (a record
	// without it) means the leader's own.
	TakeoverDelay int64 `json:"takeoverDelay,omitempty"`
	// Version is the node version, for compare-and-set; not stored.
	Version Version `json:"-"`
}

// Item states (TBSchedule's sts values; "ACTIVTE" is read as active too).
const (
	ItemActive  = "ACTIVE"
	ItemRemoved = "REMOVED"
)

// Item is the runtime state of one task item of one task type + ownSign.
//
// CurServer owns the item; ReqServer, when set, is the server the leader wants
// to own it next. Epoch is the fencing token of the current grant: every time
// the item is granted to a (new) server, Epoch grows by one, and it never goes
// back, whatever happens to the item's node. Removed items are kept with Sts
// = ItemRemoved and continue their epoch when added back; an item created
// anew (first build, or after its task type or ownSign runtime was deleted)
// starts at a floor the store takes from a counter that is never reused
// (ZooKeeper's zxid), above every epoch ever handed out for an item of that
// name. So epochs are large numbers, not counts of grants; compare them,
// never assume they start at 1 or are dense.
type Item struct {
	ID        ItemID   `json:"id"`
	CurServer ServerID `json:"cur_server"`
	ReqServer ServerID `json:"req_server"`
	Epoch     int64    `json:"epoch"`
	Sts       string   `json:"sts"`
	Parameter string   `json:"parameter"`
	DealDesc  string   `json:"deal_desc"`
	// Version is the node version, for compare-and-set; not stored.
	Version Version `json:"-"`
}

// ItemsMark is the leader's mark on a task type's item set: who built or last
// changed the item list, when, and from which definition.
type ItemsMark struct {
	Leader  ServerID `json:"leader"`
	BuiltAt Time     `json:"builtAt"`
	// Defs is the item list (TaskType.TaskItems) the items were built from.
	Defs []string `json:"defs"`
	// Version is the node version; not stored.
	Version Version `json:"-"`
}

// Items is a consistent-enough snapshot of one task type's items: the mark and
// every item (including removed ones), sorted by ID in natural order.
type Items struct {
	Mark  ItemsMark
	Items []Item
	// Stamp is the runtime's items stamp read before the snapshot (so the
	// snapshot is at least as new as it), or empty when unknown; not stored.
	Stamp ItemsStamp
}

// NoServer is the req_server value by which a leader asks the owner of an
// item to release it to nobody (the item is being removed, or is beyond the
// capacity of the live servers).
const NoServer ServerID = plan.NoServer

// ItemsStamp identifies one state of a runtime's items (see
// storekit.ItemStore.ItemsStamp). It is opaque; compare stamps with ==. The empty
// stamp means "unknown" and is never current.
type ItemsStamp string
