package strategy

import (
	"context"
	"os"
	ossignal "os/signal"
	"sync"
	"syscall"
)

// StopOnSignal returns a context for Run that is cancelled by the first of
// sigs the process receives (SIGINT and SIGTERM when none are given), so Run
// stops gracefully; a second signal calls ForceStop, so Run returns at once
// with ErrShutdownTimeout naming what still runs (a deal that ignores its
// context, say); a third one is left to the Go runtime's default (the
// process exits). Each step is logged. Call the returned function once Run
// has returned, to let the signals go: it returns once the goroutine that
// relays them has ended.
//
//	ctx, release := f.StopOnSignal(context.Background())
//	defer release()
//	err := f.Run(ctx)
func (f *Factory) StopOnSignal(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	if len(sigs) == 0 {
		sigs = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	ossignal.Notify(ch, sigs...)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		defer ossignal.Stop(ch)
		for n := 0; n < 2; n++ {
			var sig os.Signal
			select {
			case sig = <-ch:
			case <-done:
				return
			}
			if n == 0 {
				f.log.Info("signal received: stopping gracefully; send it again to force the stop", "signal", sig.String())
				cancel()
				continue
			}
			f.log.Warn("second signal: forcing the stop; Run returns now with what still runs", "signal", sig.String())
			f.ForceStop()
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() { close(done) })
		cancel()
		<-exited
	}
}
