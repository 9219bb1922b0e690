module github.com/tbschedule/tbschedule-go/metrics/prometheus

go 1.26.0

replace github.com/tbschedule/tbschedule-go => ../..

require github.com/prometheus/client_golang v1.25.0 // indirect
