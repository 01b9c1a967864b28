package finance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// StreamReport sums up a live stream when it ends.
type StreamReport struct {
	StreamID   string       `json:"stream_id"`
	MerchantID string       `json:"merchant_id"`
	Chunks     int64        `json:"chunks" doc:"chunks applied, each attested by a filing"`
	SHA256     string       `json:"sha256" doc:"SHA-256 of the stream's bytes through its last chunk (the last chunk's stream_sha256)"`
	Bytes      int64        `json:"bytes"`
	Rows       int64        `json:"rows"`
	Accepted   int64        `json:"accepted"`
	Inserted   int64        `json:"inserted"`
	Updated    int64        `json:"updated"`
	Duplicates int64        `json:"duplicates"`
	Stale      int64        `json:"stale"`
	Rejected   int64        `json:"rejected"`
	Problems   []RowProblem `json:"problems" doc:"at most 1,000"`
}

func (r *StreamReport) add(c *BatchReport) {
	r.Chunks++
	r.SHA256 = c.StreamSHA256
	r.Bytes += c.Bytes
	r.Rows += c.Rows
	r.Accepted += c.Accepted
	r.Inserted += c.Inserted
	r.Updated += c.Updated
	r.Duplicates += c.Duplicates
	r.Stale += c.Stale
	r.Rejected += c.Rejected
	for _, p := range c.Problems {
		if len(r.Problems) < maxProblems {
			r.Problems = append(r.Problems, p)
		}
	}
}

// piece is what the stream's reader hands on: a whole line with its line end, or
// part of a line too long to keep (more follows while cont is set).
type piece struct {
	raw  []byte
	cont bool
	err  error // the stream ended (io.EOF) or broke off
}

// IngestStream takes a live stream of order data, one JSON object per line as
// in a JSON-lines batch, for as long as r yields lines, and returns when r ends.
//
// Lines are applied in chunks: a chunk closes after Options.StreamChunkOrders
// lines, or Options.StreamChunkDelay after its first line arrived, and when the
// stream ends. Each chunk is applied like a batch, in one transaction with its
// attestation, a filing of type finance.stream_attested that carries the SHA-256
// of exactly the chunk's bytes and the SHA-256 of the stream's bytes from its
// start through the chunk — so that the chunks, in order, prove the whole stream.
// onChunk, when not nil, is called with each chunk's report once it is committed,
// from the calling goroutine: an order counts in the features, and in the
// merchant's live limit, by then.
//
// When r fails, or ctx ends, the lines after the last applied chunk are dropped:
// the sender sends them again (orders already applied are duplicates, which change
// nothing). The report of the chunks applied so far comes back with the error.
// r is read in a goroutine of its own, which ends when r's Read returns after
// IngestStream did: the caller closes r (an HTTP server closes a request's body
// when its handler returns).
// Errors: as IngestBatch's, and KindInvalid when the stream broke off.
func (s *Service) IngestStream(ctx context.Context, actor dataport.Actor, merchantID string, r io.Reader, onChunk func(BatchReport)) (StreamReport, error) {
	const op = "finance.IngestStream"
	list, err := s.prepare(ctx, op, actor, merchantID)
	if err != nil {
		return StreamReport{}, err
	}
	rep := StreamReport{StreamID: dataport.NewID("str"), MerchantID: merchantID, Problems: []RowProblem{}}
	done := make(chan struct{})
	defer close(done)
	pieces := make(chan piece, 64)
	go readPieces(r, pieces, done)

	st := &streamState{s: s, op: op, actor: actor, merchantID: merchantID, shops: list, rep: &rep,
		v: newValidator(s.db.Clock().Now(), list), chunkHash: sha256.New(), streamHash: sha256.New(), onChunk: onChunk}
	st.reset()
	var timer *time.Timer
	var due <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, due = nil, nil
		}
	}
	defer stopTimer()
	for {
		select {
		case <-ctx.Done():
			return rep, &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "request cancelled or timed out", Err: ctx.Err()}
		case <-due:
			stopTimer()
			if err := st.flush(ctx); err != nil {
				return rep, err
			}
		case p := <-pieces:
			if p.err == io.EOF {
				return rep, st.flush(ctx)
			}
			if p.err != nil {
				return rep, &dataport.Error{Op: op, Kind: dataport.KindInvalid, Err: p.err,
					Message: "the stream broke off: the orders after its last applied chunk were dropped; send them again"}
			}
			if !st.take(p) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(s.opts.StreamChunkDelay)
				due = timer.C
			}
			if st.chunk.Rows >= int64(s.opts.StreamChunkOrders) {
				stopTimer()
				if err := st.flush(ctx); err != nil {
					return rep, err
				}
			}
		}
	}
}

// readPieces reads r line by line and hands the lines on, until r ends or done.
func readPieces(r io.Reader, out chan<- piece, done <-chan struct{}) {
	br := bufio.NewReaderSize(r, maxLine)
	send := func(p piece) bool {
		select {
		case out <- p:
			return true
		case <-done:
			return false
		}
	}
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !send(piece{raw: bytes.Clone(b), cont: true}) {
				return
			}
			continue
		}
		if len(b) > 0 && (err == nil || err == io.EOF) {
			if !send(piece{raw: bytes.Clone(b)}) {
				return
			}
		}
		if err != nil {
			// A line cut off by a failure is dropped with the rest of its chunk.
			send(piece{err: err})
			return
		}
	}
}

// streamState is the chunk being gathered.
type streamState struct {
	s          *Service
	op         string
	actor      dataport.Actor
	merchantID string
	shops      []Shop
	rep        *StreamReport
	v          *validator
	onChunk    func(BatchReport)

	chunk      BatchReport
	orders     []order
	chunkHash  hash.Hash
	streamHash hash.Hash
	line       int64
	long       bool // inside a line too long to keep
	rec        [nFields]string
}

func (st *streamState) reset() {
	st.chunk = BatchReport{Batch: Batch{MerchantID: st.merchantID, Kind: "stream", Format: "jsonl", StreamID: st.rep.StreamID},
		Problems: []RowProblem{}}
	st.orders = st.orders[:0]
	st.chunkHash.Reset()
}

// take adds a piece of the stream to the chunk; it reports whether it was a row.
func (st *streamState) take(p piece) bool {
	st.chunkHash.Write(p.raw)
	st.streamHash.Write(p.raw)
	st.chunk.Bytes += int64(len(p.raw))
	if p.cont {
		st.long = true
		return false
	}
	st.line++
	if st.long {
		st.long = false
		st.chunk.Rows++
		st.chunk.reject(RowProblem{Line: st.line, Reason: "longer than 64 KiB"})
		return true
	}
	b := bytes.TrimRight(p.raw, "\r\n")
	if len(bytes.TrimSpace(b)) == 0 {
		return false // a blank line keeps the connection alive; it is no row
	}
	st.chunk.Rows++
	if field, why := decodeJSONRow(b, &st.rec); why != "" {
		st.chunk.reject(RowProblem{Line: st.line, Field: field, Reason: why})
		return true
	}
	st.v.now = st.s.db.Clock().Now().UnixMicro()
	o, ok := st.v.row(st.line, &st.rec)
	if !ok {
		st.chunk.reject(st.v.probs...)
		return true
	}
	st.orders = append(st.orders, o)
	st.chunk.saw(&o)
	return true
}

// flush applies the chunk gathered so far, if it holds a row.
func (st *streamState) flush(ctx context.Context) error {
	if st.chunk.Rows == 0 {
		return nil // blank lines only: they join the next chunk
	}
	st.chunk.ID = dataport.NewID("bat")
	st.chunk.Seq = st.rep.Chunks + 1
	st.chunk.SHA256 = hex.EncodeToString(st.chunkHash.Sum(nil))
	st.chunk.StreamSHA256 = hex.EncodeToString(st.streamHash.Sum(nil))
	i := 0
	next := func(o *order) (bool, error) {
		if i == len(st.orders) {
			return false, nil
		}
		*o = st.orders[i]
		i++
		return true, nil
	}
	err := st.s.db.Write(ctx, func(tx *store.Tx) error {
		if err := st.s.mayUse(tx, st.op, st.actor, st.merchantID); err != nil {
			return err
		}
		i = 0
		b := st.chunk.Batch
		if err := st.s.applyOrders(tx, st.actor, st.shops, &b, next); err != nil {
			return err
		}
		st.chunk.Batch = b
		return nil
	})
	if err != nil {
		return err
	}
	st.rep.add(&st.chunk)
	if st.onChunk != nil {
		st.onChunk(st.chunk)
	}
	st.reset()
	return nil
}
