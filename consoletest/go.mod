// The web console's browser tests (Chromium driven by chromedp), a module of
// its own so that the library's go.mod does not carry chromedp.
module github.com/tbschedule/tbschedule-go/consoletest

go 1.26.0

replace github.com/tbschedule/tbschedule-go => ..

require (
	github.com/chromedp/chromedp v0.23.1
	github.com/tbschedule/tbschedule-go v0.0.0-00010101000000-000000000000
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/go-zookeeper/zk v1.0.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
