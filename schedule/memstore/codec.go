package memstore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// encode marshals a record with its own MarshalJSON. A record that does not
// encode is invalid input.
func encode(op, path string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("memstore: %s %s: encode: %w: %w", op, path, schedule.ErrInvalid, err)
	}
	return b, nil
}

// decode unmarshals a node's bytes; undecodable data is ErrCorrupt naming
// the path.
func decode(op, path string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return corrupt(op, path, err)
	}
	return nil
}

func corrupt(op, path string, err error) error {
	return fmt.Errorf("memstore: %s %s: %w: %w", op, path, schedule.ErrCorrupt, err)
}

// invalid wraps a validation error so that it matches schedule.ErrInvalid.
func invalid(op, path string, err error) error {
	if errors.Is(err, schedule.ErrInvalid) {
		return fmt.Errorf("memstore: %s %s: %w", op, path, err)
	}
	return fmt.Errorf("memstore: %s %s: %w: %w", op, path, schedule.ErrInvalid, err)
}
