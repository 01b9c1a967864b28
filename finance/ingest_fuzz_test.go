package finance

import (
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

// fuzzHeader names the columns of a typical CSV batch.
const fuzzHeader = "order_id,shop,ordered_at,amount,currency,status,refund_amount,complaint,rating,logistics,expected_settlement\n"

// fuzzShops are the merchant's shops the fuzzed batches name.
var fuzzShops = []Shop{
	{ID: "shp_1", Platform: "taobao", ExternalID: "A100"},
	{ID: "shp_2", Platform: "jd", ExternalID: "B200"},
	{ID: "shp_3", Platform: "pdd", ExternalID: "A100"},
}

// A batch of any bytes, CSV or JSON lines, reads to its end as rows and problems
// (or fails as a whole with an invalid-input error), never a panic; every byte is
// counted into the attestation; and every order the validator keeps satisfies the
// order's invariants.
func FuzzParseBatch(f *testing.F) {
	f.Add(false, []byte(fuzzHeader+
		"T1,taobao:A100,2026-11-20T10:00:00+08:00,12.30,CNY,delivered,,false,5,shipped@2026-11-20T18:00:00+08:00;delivered@2026-11-22T10:00:00+08:00,2026-12-05\n"+
		"T2,A100,2026-11-21T11:00:00+08:00,99,CNY,paid,,,,,2026-12-06\n"+
		"\"B1\",B200,2026-11-22T09:30:00Z,\"1,000.00\",USD,shipped,,,,,\n"+
		"B2,jd:B200,2026-11-22T09:30:00Z,1000.5,USD,refunded,,true,2,,\n"))
	f.Add(false, []byte("\ufefforder_id,shop,ordered_at,amount_minor,currency,status,refund_amount_minor,settled_at,updated_at\r\nX,shp_2,2025-01-01T00:00:00Z,500,JPY,refunded,200,2025-01-02T00:00:00Z,2025-01-03T00:00:00Z\r\n"))
	f.Add(false, []byte("order_id,shop,amount,colour\n1,A100,1,red\n"))
	f.Add(false, []byte(fuzzHeader+"T8,\"A100\n"))
	f.Add(true, []byte(`{"order_id":"J1","shop":"B200","ordered_at":"2026-11-22T09:30:00Z","amount":"12.30","currency":"USD","status":"delivered","logistics":[{"event":"shipped","at":"2026-11-22T10:00:00Z"}],"rating":4}`+"\n\n"+
		`{"order_id":"J2","shop":"shp_1","ordered_at":"2026-11-22T09:30:00+08:00","amount_minor":1230,"currency":"CNY","status":"paid","complaint":true}`+"\r\n"+
		`[1,2]`+"\n"+`{"order_id": null}`))
	f.Add(true, []byte(`{"sh\u006fp": "A", "status": "paid" , "currency":"CNY"}`))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, jsonl bool, data []byte) {
		h := &hashing{r: &chunked{data}, h: sha256.New(), max: 1 << 20}
		var src source
		if jsonl {
			src = newJSONL(h)
		} else {
			s, err := newCSV("finance.IngestBatch", h)
			if err != nil {
				checkReadError(t, err)
				return
			}
			src = s
		}
		v := newValidator(now, fuzzShops)
		var rec [nFields]string
		lastLine := int64(0)
		for {
			line, prob, err := src.next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				checkReadError(t, err)
				return
			}
			if line < 1 || (jsonl && line <= lastLine) {
				t.Fatalf("row at line %d after line %d", line, lastLine)
			}
			lastLine = line
			if prob != nil {
				if prob.Reason == "" || prob.Line != line {
					t.Fatalf("problem without a reason or at another line: %+v (line %d)", prob, line)
				}
				continue
			}
			o, ok := v.row(line, &rec)
			if !ok {
				if len(v.probs) == 0 {
					t.Fatalf("row at line %d refused without a problem", line)
				}
				continue
			}
			checkOrder(t, &o, now)
		}
		if h.n != int64(len(data)) {
			t.Fatalf("read %d of %d bytes to the end", h.n, len(data))
		}
		if sum := sha256.Sum256(data); string(h.h.Sum(nil)) != string(sum[:]) {
			t.Fatal("the attestation is not the SHA-256 of the bytes sent")
		}
	})
}

// checkReadError accepts only the ways a batch may fail as a whole.
func checkReadError(t *testing.T, err error) {
	t.Helper()
	var de *dataport.Error
	switch {
	case errors.Is(err, errRowTooLong), errors.Is(err, errTooLarge):
	case errors.As(err, &de) && de.Kind == dataport.KindInvalid:
	default:
		t.Fatalf("batch failed with %v, not an invalid-input error", err)
	}
}

// checkOrder holds a kept order to what ingest promises to store.
func checkOrder(t *testing.T, o *order, now time.Time) {
	t.Helper()
	switch {
	case o.id == "" || len(o.id) > 128:
		t.Fatalf("kept an order with id %q", o.id)
	case o.shop < 0 || int(o.shop) >= len(fuzzShops):
		t.Fatalf("kept an order of shop %d", o.shop)
	case o.orderedAt < earliestOrder || o.orderedAt > now.UnixMicro():
		t.Fatalf("kept an order placed at %d", o.orderedAt)
	case int(o.cur) >= len(currencyCodes) || o.currency() == "":
		t.Fatalf("kept an order in currency %d", o.cur)
	case o.status == 0:
		t.Fatal("kept an order without a status")
	case o.amount < 0 || o.refund < 0 || o.refund > o.amount:
		t.Fatalf("kept an order of %d refunded %d", o.amount, o.refund)
	case o.rating < 0 || o.rating > 5:
		t.Fatalf("kept a rating of %d", o.rating)
	case o.settledAt != 0 && o.settledAt < o.orderedAt:
		t.Fatal("kept an order settled before it was placed")
	case o.settleOn != 0 && o.settleOn < dayOf(o.orderedAt):
		t.Fatal("kept an order due to settle before it was placed")
	}
}

// chunked reads its bytes a few at a time, as a network body arrives.
type chunked struct{ b []byte }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), 1+len(c.b)%7, len(c.b))
	n = copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}
