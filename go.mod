module github.com/tbschedule/tbschedule-go

go 1.26.0

require (
	github.com/go-zookeeper/zk v1.0.4
	github.com/google/uuid v1.6.0
	github.com/robfig/cron/v3 v3.0.1
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/text v0.44.0
)

require go.yaml.in/yaml/v3 v3.0.5

require golang.org/x/crypto v0.59.0
