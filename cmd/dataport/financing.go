package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
)

// sweepLiveLimits files the live-limit changes that time alone makes (a stream
// that stopped triggers no apply), every interval until ctx ends.
func sweepLiveLimits(ctx context.Context, fin *finance.Service, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := fin.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("live limit sweep", "err", err)
			}
		}
	}
}

// demoLivePolicy gives the demo's live seller an ad-spend limit policy: between
// 5,000 and 100,000 yuan, twice its net live sales of the last ten minutes.
func demoLivePolicy(fin *finance.Service) func(ctx context.Context, operator dataport.Actor, merchantID string) error {
	return func(ctx context.Context, operator dataport.Actor, merchantID string) error {
		_, err := fin.SetLiveLimitPolicy(ctx, operator, merchantID, finance.NewLiveLimitPolicy{
			Floor: 5_000_00, Cap: 100_000_00, MultiplierBP: 20_000})
		return err
	}
}
