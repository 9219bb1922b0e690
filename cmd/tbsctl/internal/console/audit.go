package console

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// auditRecord is one change made through the console: who, what, the
// state before and after, and how it ended (the command's exit code and
// messages). It is one JSON line of the audit log.
type auditRecord struct {
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Role   Role      `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	// Input is the document or file the change was asked with.
	Input  string `json:"input,omitempty"`
	Before string `json:"before"`
	After  string `json:"after"`
	OK     bool   `json:"ok"`
	Result Result `json:"result"`
}

// auditLog writes audit records, one JSON line each, never interleaved.
type auditLog struct {
	mu  sync.Mutex // guards w
	w   io.Writer
	now func() time.Time
}

// write writes rec, stamped now unless it says when.
func (a *auditLog) write(rec auditRecord) error {
	if rec.At.IsZero() {
		rec.At = a.now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.w.Write(append(b, '\n'))
	return err
}
