// Package processor runs a task type's data processing inside one thread
// group: the SLEEP and NOTSLEEP processors, the TaskDeal interfaces users
// implement, batch boundaries for handover, and statistics.
//
// Not yet implemented: see the project's issues.
package processor
