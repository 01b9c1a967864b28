package finance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// BatchReport tells what became of a batch (or of one chunk of a live stream).
type BatchReport struct {
	Batch
	Problems []RowProblem `json:"problems" doc:"why rows were rejected, by line; at most 1,000 (rejected counts them all)"`
}

// maxProblems caps the problems a report lists.
const maxProblems = 1000

func (r *BatchReport) reject(probs ...RowProblem) {
	r.Rejected++
	for _, p := range probs {
		if len(r.Problems) < maxProblems {
			r.Problems = append(r.Problems, p)
		}
	}
}

func (r *BatchReport) saw(o *order) {
	t := timeOf(o.orderedAt)
	if r.FirstOrderAt.IsZero() || t.Before(r.FirstOrderAt) {
		r.FirstOrderAt = t
	}
	if t.After(r.LastOrderAt) {
		r.LastOrderAt = t
	}
}

func timeOf(µs int64) time.Time { return time.UnixMicro(µs).UTC() }

// MaySend checks, before a stream is opened, that actor may send merchantID's order
// data now: who may change it (the merchant itself or the operator, both active) and
// that the merchant has shops to send for. IngestStream checks the same again; an
// API answering a stream with a status first asks here, while it can still refuse.
func (s *Service) MaySend(ctx context.Context, actor dataport.Actor, merchantID string) error {
	_, err := s.prepare(ctx, "finance.MaySend", actor, merchantID)
	return err
}

// prepare checks that actor may send merchantID's data and returns its shops.
func (s *Service) prepare(ctx context.Context, op string, actor dataport.Actor, merchantID string) ([]Shop, error) {
	var list []Shop
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayUse(tx, op, actor, merchantID); err != nil {
			return err
		}
		var err error
		list, err = shops(tx, merchantID)
		return dataport.Wrap(op, err)
	})
	if err == nil && len(list) == 0 {
		err = dataport.Errorf(op, dataport.KindConflict, "merchant %s has no shop: connect its shops before sending their orders", merchantID)
	}
	return list, err
}

// IngestBatch takes a batch of order data, in format "csv" or "jsonl" (see the
// package documentation for the fields), from the merchant itself or the
// operator.
//
// The batch is read to its end, hashed and checked row by row before anything is
// written; then its valid rows, the aggregates they change and its attestation
// (a filing of type finance.batch_attested carrying the SHA-256 of exactly the
// bytes read) are written in one transaction. Rows that are wrong are rejected
// and listed with their line; the others are kept. An order already stored is a
// duplicate when it carries the same data, an update when it carries newer data,
// and stale when it is older (an earlier status, or an earlier updated_at): see
// the package documentation.
//
// The same transaction keeps the merchant's live limit and runs the OnApplied
// functions (see the package documentation).
//
// Errors, after which nothing of the batch is kept: KindInvalid for an unknown
// format, a batch without rows, a CSV header that does not name the fields, or a
// batch that broke off before its end; KindTooLarge past the batch limits;
// KindConflict when the merchant has no shop; KindNotFound, KindForbidden,
// KindUnauthorized; KindUnavailable when ctx ends first; the error of an
// OnApplied function.
func (s *Service) IngestBatch(ctx context.Context, actor dataport.Actor, merchantID, format string, r io.Reader) (BatchReport, error) {
	const op = "finance.IngestBatch"
	if format != "csv" && format != "jsonl" {
		return BatchReport{}, dataport.Invalid(op, dataport.FieldProblem{Field: "format", Message: "csv or jsonl"})
	}
	list, err := s.prepare(ctx, op, actor, merchantID)
	if err != nil {
		return BatchReport{}, err
	}
	v := newValidator(s.db.Clock().Now(), list)
	sp := newSpool(s.opts.SpoolDir)
	defer sp.close()
	h := &hashing{r: r, h: sha256.New(), max: s.opts.MaxBatchBytes}
	var src source
	if format == "csv" {
		if src, err = newCSV(op, h); err != nil {
			return BatchReport{}, s.readError(ctx, op, h, err)
		}
	} else {
		src = newJSONL(h)
	}
	rep := BatchReport{Batch: Batch{ID: dataport.NewID("bat"), MerchantID: merchantID, Kind: "batch", Format: format}, Problems: []RowProblem{}}
	var rec [nFields]string
	for {
		if rep.Rows&4095 == 0 {
			if ctx.Err() != nil {
				return BatchReport{}, s.readError(ctx, op, h, ctx.Err())
			}
			v.now = s.db.Clock().Now().UnixMicro() // a long upload: orders placed meanwhile are not in the future
		}
		line, prob, err := src.next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return BatchReport{}, s.readError(ctx, op, h, err)
		}
		if rep.Rows++; rep.Rows > s.opts.MaxBatchOrders {
			return BatchReport{}, dataport.Errorf(op, dataport.KindTooLarge,
				"the batch has more than %d rows: send it as several batches", s.opts.MaxBatchOrders)
		}
		if prob != nil {
			rep.reject(*prob)
			continue
		}
		o, ok := v.row(line, &rec)
		if !ok {
			rep.reject(v.probs...)
			continue
		}
		if err := sp.put(&o); err != nil {
			return BatchReport{}, dataport.Internal(op, err)
		}
		rep.saw(&o)
	}
	if rep.Rows == 0 {
		return BatchReport{}, dataport.Errorf(op, dataport.KindInvalid, "the batch holds no orders")
	}
	rep.SHA256, rep.Bytes = hex.EncodeToString(h.h.Sum(nil)), h.n
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := s.mayUse(tx, op, actor, merchantID); err != nil {
			return err
		}
		if err := sp.rewind(); err != nil {
			return dataport.Internal(op, err)
		}
		b := rep.Batch
		if err := s.applyOrders(tx, actor, list, &b, sp.next); err != nil {
			return err
		}
		rep.Batch = b
		return nil
	})
	if err != nil {
		return BatchReport{}, err
	}
	return rep, nil
}

// readError explains why a batch could not be read to its end.
func (s *Service) readError(ctx context.Context, op string, h *hashing, err error) error {
	var de *dataport.Error
	switch {
	case errors.As(err, &de):
		return err
	case ctx.Err() != nil:
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "request cancelled or timed out: nothing of the batch was kept", Err: ctx.Err()}
	case errors.Is(err, errTooLarge):
		return dataport.Errorf(op, dataport.KindTooLarge, "the batch is larger than %d bytes: send it as several batches", s.opts.MaxBatchBytes)
	case errors.Is(err, errRowTooLong):
		return dataport.Errorf(op, dataport.KindInvalid, "near byte %d: a CSV record longer than 64 KiB (an unclosed quote?): nothing of the batch was kept", h.n)
	}
	return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Err: err,
		Message: fmt.Sprintf("the batch broke off after %d bytes: nothing of it was kept; send it again", h.n)}
}
