package main

import (
	"context"
	"io"
	"sort"
	"strings"

	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/s3api"
)

// buckets is the S3 endpoint's namespace: deals' buckets (deal-…) are the
// exchange's datasets, every other bucket is a mirrored upstream.
type buckets struct {
	mirror, deals s3api.Backend
}

func (b buckets) of(bucket string) s3api.Backend {
	if strings.HasPrefix(bucket, delivery.BucketPrefix) {
		return b.deals
	}
	return b.mirror
}

func (b buckets) Buckets(ctx context.Context, c s3api.Caller) ([]s3api.Bucket, error) {
	m, err := b.mirror.Buckets(ctx, c)
	if err != nil {
		return nil, err
	}
	d, err := b.deals.Buckets(ctx, c)
	if err != nil {
		return nil, err
	}
	all := append(m, d...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

func (b buckets) Region(ctx context.Context, c s3api.Caller, bucket string) (string, error) {
	return b.of(bucket).Region(ctx, c, bucket)
}

func (b buckets) List(ctx context.Context, c s3api.Caller, bucket string, q s3api.ListQuery) (s3api.ListPage, error) {
	return b.of(bucket).List(ctx, c, bucket, q)
}

func (b buckets) Head(ctx context.Context, c s3api.Caller, bucket, key string) (s3api.ObjectInfo, error) {
	return b.of(bucket).Head(ctx, c, bucket, key)
}

func (b buckets) Get(ctx context.Context, c s3api.Caller, bucket, key string, offset, length int64) (io.ReadCloser, error) {
	return b.of(bucket).Get(ctx, c, bucket, key, offset, length)
}
