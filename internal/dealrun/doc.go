// Package dealrun is the contract between the two halves of a processor: the
// typed runner of a deal, which package processor builds when Single, Multi,
// SingleFunc or MultiFunc erase the record type, and the engine that drives
// it (internal/engine). It holds what both halves name: the runner's
// interface and environment, what a runner reports back, the context key of
// processor.ItemsFromContext, and the pure decisions of the retry of failed
// records, which the runner and the engine apply.
//
// It imports neither half: package processor imports it to build runners,
// the engine imports both.
package dealrun
