// The orders example, its own module so that the library's go.mod does not
// carry the SQLite driver. Tidy it with "go mod tidy -e": plain tidy also
// fetches the test-only dependencies of modernc.org/sqlite, one of which
// (a github.com/google/pprof pseudo-version) the module proxy does not serve.
module github.com/tbschedule/tbschedule-go/examples/orders

go 1.26.0

replace github.com/tbschedule/tbschedule-go => ../..

require (
	github.com/stretchr/testify v1.12.1
	github.com/tbschedule/tbschedule-go v0.0.0-00010101000000-000000000000
	modernc.org/sqlite v1.61.1
)

require (
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/go-zookeeper/zk v1.0.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
	modernc.org/libc v1.79.0 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
