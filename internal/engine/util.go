package engine

import (
	"fmt"

	"github.com/tbschedule/tbschedule-go/processor"
)

// itemIDs lists the ids of items, for logs and errors.
func itemIDs(items []processor.TaskItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

func sprint(v any) string { return fmt.Sprint(v) }
