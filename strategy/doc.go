// Package strategy is the manager factory, the entry point a service embeds:
// it registers the process in the coordination service, reads strategies,
// distributes thread groups among factories, starts and stops schedule
// managers and Bean tasks to match, and shuts everything down gracefully.
//
// Not yet implemented: see the project's issues.
package strategy
