package dsp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// The provider's transfer service over a real store on every engine, with the
// exchange's clock fixed, for what takes time: a pull token works for TokenTTL from
// its start and no longer; the provider's restart issues a new one and the old one is
// refused; a consumer that cannot be reached is tried again after the backoff, which
// doubles, and told what it is owed once it answers. (The scenarios themselves run
// against the API server in the api package's dsp_transfer_test.go.)
func TestTransferTokensAndOwedMessages(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		w := tradetest.New(t, engine)
		d := w.Finalized(ctx, w.Buyer, trade.NewDeal{Scenario: "research", Purpose: "academic", DeliveryMode: "file", Price: 500_000})
		_, key, err := w.Reg.IssueKey(ctx, w.Buyer.ParticipantID, registry.NewAPIKey{Name: "connector", Roles: w.Buyer.Roles})
		if err != nil {
			t.Fatal(err)
		}
		var down atomic.Bool
		got := make(chan dsp.Message, 8)
		cb := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if down.Load() {
				rw.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fresh := map[string]dsp.Message{"start": &dsp.TransferStartMessage{}, "suspension": &dsp.TransferSuspensionMessage{}}[path.Base(r.URL.Path)]
			raw, _ := io.ReadAll(r.Body)
			if fresh == nil || dsp.Decode(raw, fresh) != nil {
				t.Errorf("%s: %s", r.URL.Path, raw)
				rw.WriteHeader(http.StatusBadRequest)
				return
			}
			got <- fresh
		}))
		defer cb.Close()
		next := func() dsp.Message {
			t.Helper()
			select {
			case m := <-got:
				return m
			case <-time.After(10 * time.Second):
				t.Fatal("nothing posted to the callback")
				return nil
			}
		}
		svc := &dsp.TransferService{Auth: dsp.APIKeys{Keys: w.Reg}, DB: w.DB, Trade: w.Deals, Client: &dsp.Client{}, Path: "/dsp", Backoff: time.Minute}

		// The request, at the address the consumer reached: the data address is there.
		request := func(consumerPID string) string {
			t.Helper()
			body, err := dsp.Encode(&dsp.TransferRequestMessage{ConsumerPID: consumerPID, AgreementID: dsp.DealIRIPrefix + d.ID,
				Format: dsp.FormatPull, CallbackAddress: cb.URL + "/cb/"})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "http://exchange.example/dsp/transfers/request", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			rec := httptest.NewRecorder()
			svc.ServeRequest(rec, req)
			var p dsp.TransferProcess
			if rec.Code != http.StatusCreated || dsp.Decode(rec.Body.Bytes(), &p) != nil || p.State != dsp.TransferRequested {
				t.Fatalf("request: %d %s", rec.Code, rec.Body)
			}
			return p.ProviderPID
		}
		pid := request("urn:uuid:first")
		endpoint := "http://exchange.example/dsp/data/" + url.PathEscape(pid)
		move := func(m dsp.TransferMove) error {
			t.Helper()
			if _, err := svc.Move(ctx, dataport.System, pid, m, ""); err != nil {
				t.Fatal(err)
			}
			return svc.Send(ctx, pid)
		}
		start := func() string {
			t.Helper()
			if err := move(dsp.MoveTransferStart); err != nil {
				t.Fatal(err)
			}
			m, ok := next().(*dsp.TransferStartMessage)
			if !ok || m.DataAddress == nil || m.DataAddress.Endpoint != endpoint {
				t.Fatalf("start %+v", m)
			}
			token, _ := m.DataAddress.Property("authorization")
			return token
		}
		authorize := func(token string) (dsp.Pull, error) {
			r := httptest.NewRequest(http.MethodGet, endpoint, nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return svc.Authorize(r, pid)
		}
		refused := func(token, why string) {
			t.Helper()
			if _, err := authorize(token); dataport.KindOf(err) != dataport.KindUnauthorized || !strings.Contains(dataport.MessageOf(err), why) {
				t.Fatalf("want the token refused (%s), got %v", why, err)
			}
		}

		token := start()
		pull, err := authorize(token)
		if err != nil || pull.DealID != d.ID || pull.Buyer.ParticipantID != w.Buyer.ParticipantID || !pull.Buyer.Has(dataport.RoleBuyer) {
			t.Fatalf("pull %+v, %v", pull, err)
		}
		// Suspended, the token is refused; the provider's restart brings a new one, and
		// the old one stays refused.
		if err := move(dsp.MoveTransferSuspension); err != nil {
			t.Fatal(err)
		}
		if _, ok := next().(*dsp.TransferSuspensionMessage); !ok {
			t.Fatal("no suspension posted")
		}
		refused(token, "SUSPENDED")
		w.Clock.Advance(10 * time.Minute)
		renewed := start()
		if renewed == token {
			t.Fatal("the restart kept the token")
		}
		refused(token, "not one of this data address")
		// The new token works for TokenTTL from the restart, and no longer.
		w.Clock.Advance(dsp.DefaultTokenTTL - time.Second)
		if _, err := authorize(renewed); err != nil {
			t.Fatalf("a second before it expires: %v", err)
		}
		w.Clock.Advance(time.Second)
		refused(renewed, "expired")

		// The consumer cannot be reached: the suspension is owed, tried again after a
		// minute, then after two more.
		down.Store(true)
		if err := move(dsp.MoveTransferSuspension); err == nil {
			t.Fatal("a post to a consumer that answers 503 succeeded")
		}
		owed := func(wantSent int, wantErr bool) {
			t.Helper()
			n, err := svc.SendOwed(ctx)
			if n != wantSent || (err != nil) != wantErr {
				t.Fatalf("SendOwed: %d, %v; want %d, an error %v", n, err, wantSent, wantErr)
			}
		}
		owed(0, false) // not due yet
		w.Clock.Advance(time.Minute)
		owed(0, true) // tried, and failed again
		w.Clock.Advance(time.Minute)
		owed(0, false) // the backoff doubled
		down.Store(false)
		w.Clock.Advance(time.Minute)
		owed(1, false)
		if _, ok := next().(*dsp.TransferSuspensionMessage); !ok {
			t.Fatal("the owed suspension was not posted")
		}
		tr, err := svc.Get(ctx, w.Supplier, pid)
		if err != nil || tr.State != dsp.TransferSuspended || tr.Told != dsp.TransferSuspended || tr.SendAttempts != 0 || tr.SendError != "" {
			t.Fatalf("transfer %+v, %v", tr, err)
		}
		owed(0, false)

		// With Root set, the data address is the exchange's public URL, whatever the
		// consumer reached.
		svc.Root = "https://exchange.example/"
		second := request("urn:uuid:second")
		if tr, err := svc.Get(ctx, w.Buyer, second); err != nil || tr.Endpoint != "https://exchange.example/dsp/data/"+url.PathEscape(second) {
			t.Fatalf("transfer %+v, %v", tr, err)
		}
		if ts, err := svc.OfDeal(ctx, w.Operator, d.ID); err != nil || len(ts) != 2 || ts[0].ProviderPID != pid {
			t.Fatalf("the deal's transfers %+v, %v", ts, err)
		}
	})
}
