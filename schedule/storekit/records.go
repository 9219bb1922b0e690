package storekit

import (
	"github.com/tbschedule/tbschedule-go/schedule"
)

// AnyVersion makes a write unconditional where the contract allows it.
const AnyVersion schedule.Version = -1
