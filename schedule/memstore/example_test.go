package memstore_test

import (
	"context"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/schedule/storekit/storetest"
)

// Two clients of one in-memory server: a registration of one vanishes for
// the other when the server expires its session, and its watch fires.
func Example() {
	ctx := context.Background()
	srv := memstore.New(memstore.Config{})
	worker, observer := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	defer worker.Close()
	defer observer.Close()

	if _, err := worker.CreateTaskType(ctx, storetest.SampleTaskType("orders")); err != nil {
		fmt.Println(err)
		return
	}
	sess, _ := worker.Session(ctx)
	if _, err := worker.RegisterServer(ctx, sess, storetest.SampleServer("orders", "10.0.0.1")); err != nil {
		fmt.Println(err)
		return
	}
	changed, _ := observer.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "orders"})
	servers, _ := observer.Servers(ctx, "orders")
	fmt.Println("servers before expiry:", len(servers))

	srv.ExpireSession(worker)
	<-changed
	servers, _ = observer.Servers(ctx, "orders")
	fmt.Println("servers after expiry:", len(servers))
	fmt.Println("old session:", sess.State(), sess.Err())
	_, err := worker.RegisterServer(ctx, sess, storetest.SampleServer("orders", "10.0.0.1"))
	fmt.Println("register with the old session:", err)
	// Output:
	// servers before expiry: 1
	// servers after expiry: 0
	// old session: expired schedule: session lost
	// register with the old session: memstore: create /baseTaskType/orders/orders/server: schedule: session lost
}
