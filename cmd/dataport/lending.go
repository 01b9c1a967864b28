package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// sweepLoans marks overdue (逾期) the loans whose due time has passed unpaid, at
// once and then every interval, until ctx ends. A sweep that fails (the database
// away) is logged and tried again at the next tick: the loans are still due then,
// and Sweep marks nothing twice, so several replicas may sweep alike.
func sweepLoans(ctx context.Context, svc *lending.Service, clock dataport.Clock, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := svc.Sweep(ctx, clock.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("overdue sweep failed", "err", err)
		case n > 0:
			log.Info("loans overdue", "marked", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
