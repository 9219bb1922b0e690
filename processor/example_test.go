package processor_test

import (
	"context"
	"fmt"

	"github.com/tbschedule/tbschedule-go/processor"
)

type order struct {
	ID     int64
	Status string
}

// A deal of a struct type: WithKey names the record's identity, which a
// NOTSLEEP task type needs (to keep two copies of a record from running at
// once) and both types use to back a failing record off by itself. The Deal
// is then registered with a factory (strategy.Factory.RegisterDeal) under the
// task type's dealBeanName.
func Example() {
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]order, error) {
			// SELECT ... WHERE own_sign = req.OwnSign AND
			// mod(id, req.TaskItemNum) IN (req.Items) LIMIT req.FetchNum
			return nil, nil
		},
		func(ctx context.Context, o order, ownSign string) error {
			// ship o, then mark it done
			return nil
		},
		processor.WithKey(func(o order) int64 { return o.ID }))
	fmt.Println(deal)
	// Output: single deal of processor_test.order (key: WithKey)
}
