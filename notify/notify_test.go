package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

type world struct {
	t       *testing.T
	db      *store.DB
	clock   *dataport.FixedClock
	svc     *notify.Service
	member  dataport.Actor
	other   dataport.Actor
	reg     *registry.Service
	secret  []byte
	opAdmin dataport.Actor
}

func setup(t *testing.T, engine store.Engine, opts notify.Options) *world {
	ctx := context.Background()
	clock := dataport.NewFixedClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, db: db, clock: clock, reg: reg, secret: bytes.Repeat([]byte{42}, notify.SecretSize)}
	w.opAdmin, _ = reg.Authenticate(ctx, token)
	for i, a := range []*dataport.Actor{&w.member, &w.other} {
		uscc, _ := registry.CompleteUSCC([]string{"91310115MA1K2XH01", "91310101MA1G8PJ03"}[i])
		p, err := reg.CreateParticipant(ctx, w.opAdmin, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: []string{"上海星河数据科技有限公司", "上海浦江国际数据服务有限公司"}[i]},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: uscc, Roles: []dataport.Role{dataport.RoleBuyer}})
		if err != nil {
			t.Fatal(err)
		}
		*a = dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{dataport.RoleBuyer}}
	}
	if w.svc, err = notify.New(db, w.secret, opts); err != nil {
		t.Fatal(err)
	}
	return w
}

// send files a change that notifies to.
func (w *world) send(to, kind string, payload any) {
	w.t.Helper()
	err := w.db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := ledger.File(tx, dataport.System, ledger.Change{Type: "test.happened", Subjects: []string{to}, Payload: map[string]any{"kind": kind}}); err != nil {
			return err
		}
		return notify.Send(tx, to, kind, payload)
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) deliver() int {
	w.t.Helper()
	n, err := w.svc.DeliverDue(context.Background(), 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) deliveries(hook string) []notify.WebhookDelivery {
	w.t.Helper()
	ds, err := w.svc.Deliveries(context.Background(), w.member, hook, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

// receiver is a webhook endpoint that verifies what it is sent and answers from a
// script of statuses (then 204).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	got      []http.Header
	bodies   [][]byte
	verifyBy []string // whpk_ keys every delivery must verify under
	clock    dataport.Clock
	bad      []string
}

func newReceiver(t *testing.T, clock dataport.Clock, script ...int) *receiver {
	r := &receiver{script: script, clock: clock}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got, r.bodies = append(r.got, req.Header.Clone()), append(r.bodies, body)
		for _, k := range r.verifyBy {
			pub, err := notify.ParsePublicKey(k)
			if err == nil {
				err = notify.Verify(pub, req.Header, body, r.clock.Now(), 5*time.Minute)
			}
			if err != nil {
				r.bad = append(r.bad, err.Error())
			}
		}
		status := http.StatusNoContent
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "3600")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func TestWebhookRegistrationRefusesBadEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine, notify.Options{})
		ctx := context.Background()
		for url, why := range map[string]string{
			"ftp://example.com/hook":            "https",
			"http://example.com/hook":           "https",
			"https://user:pw@example.com/hook":  "credentials",
			"https://127.0.0.1/hook":            "private",
			"https://10.1.2.3/hook":             "private",
			"https://169.254.169.254/latest":    "private",
			"https://[::1]/hook":                "private",
			"https://localhost:8443/hook":       "private",
			"example.com/hook":                  "absolute",
			"https://example.com/hook#fragment": "fragment",
		} {
			_, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: url})
			if dataport.KindOf(err) != dataport.KindInvalid || !strings.Contains(err.Error(), why) {
				t.Errorf("%s: %v, want invalid mentioning %q", url, err, why)
			}
		}
		_, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: "https://example.com/hook", Events: []string{"Demand Matched"}})
		if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != "events[0]" {
			t.Fatalf("bad event kind: %v", err)
		}
		_, err = w.svc.Register(ctx, dataport.Actor{}, notify.NewWebhook{URL: "https://example.com/hook"})
		if dataport.KindOf(err) != dataport.KindUnauthorized {
			t.Fatalf("anonymous: %v", err)
		}
		var n int
		w.db.Read(ctx, func(tx *store.Tx) error { return tx.QueryRow(`SELECT COUNT(*) FROM webhooks`).Scan(&n) })
		if n != 0 {
			t.Fatalf("%d webhooks after bad input", n)
		}
		// A suspended participant registers nothing.
		if _, err := w.reg.Suspend(ctx, w.opAdmin, w.member.ParticipantID, "investigation"); err != nil {
			t.Fatal(err)
		}
		_, err = w.svc.Register(ctx, w.member, notify.NewWebhook{URL: "https://example.com/hook"})
		if dataport.KindOf(err) != dataport.KindForbidden {
			t.Fatalf("suspended: %v", err)
		}
	})
}

// A notification reaches a registered endpoint signed, is retried on failure with the
// same webhook-id, and stops at success; kinds the endpoint did not ask for are not
// sent; the inbox has everything.
func TestWebhookDeliveryAndRetries(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine, notify.Options{AllowPrivate: true})
		ctx := context.Background()
		rcv := newReceiver(t, w.clock, http.StatusInternalServerError, http.StatusServiceUnavailable)
		hook, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: rcv.URL + "/dataport", Events: []string{"demand.matched"}})
		if err != nil {
			t.Fatal(err)
		}
		rcv.verifyBy = []string{hook.PublicKey}
		w.send(w.member.ParticipantID, "demand.matched", map[string]any{"demand_id": "dmd_1", "score": 2.5})
		w.send(w.member.ParticipantID, "quote.received", map[string]any{"quote_id": "quo_1"}) // not subscribed
		w.send(w.other.ParticipantID, "demand.matched", map[string]any{"demand_id": "dmd_2"}) // someone else's

		if n := w.deliver(); n != 1 {
			t.Fatalf("attempted %d deliveries, want 1", n)
		}
		d := w.deliveries(hook.ID)
		if len(d) != 1 || d[0].Status != "pending" || d[0].Attempts != 1 || d[0].LastStatus != 500 {
			t.Fatalf("after a 500: %+v", d)
		}
		if wait := d[0].NextAttemptAt.Sub(w.clock.Now()); wait < 5*time.Second || wait > 6*time.Second {
			t.Fatalf("first retry in %s, want 5s and a little jitter", wait)
		}
		if n := w.deliver(); n != 0 {
			t.Fatal("retried before its time")
		}
		w.clock.Advance(6 * time.Second)
		w.deliver() // 503 with Retry-After: 3600 → waits an hour, not five minutes
		d = w.deliveries(hook.ID)
		if d[0].Attempts != 2 || d[0].LastStatus != 503 || d[0].NextAttemptAt.Sub(w.clock.Now()) < time.Hour {
			t.Fatalf("after a 503 with Retry-After: %+v", d[0])
		}
		w.clock.Advance(time.Hour + time.Second)
		w.deliver()
		d = w.deliveries(hook.ID)
		if d[0].Status != "delivered" || d[0].Attempts != 3 || d[0].LastStatus != 204 {
			t.Fatalf("after success: %+v", d[0])
		}
		if n := w.deliver(); n != 0 || rcv.hits() != 3 {
			t.Fatalf("delivered again: %d, %d hits", n, rcv.hits())
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.bad) > 0 {
			t.Fatalf("signatures did not verify: %v", rcv.bad)
		}
		for _, h := range rcv.got {
			if h.Get(notify.HeaderID) != d[0].ID {
				t.Fatalf("webhook-id %q, want the delivery's %s on every attempt", h.Get(notify.HeaderID), d[0].ID)
			}
		}
		var body struct {
			Type           string          `json:"type"`
			Timestamp      string          `json:"timestamp"`
			Data           json.RawMessage `json:"data"`
			NotificationID string          `json:"notification_id"`
		}
		if err := json.Unmarshal(rcv.bodies[0], &body); err != nil || body.Type != "demand.matched" ||
			string(body.Data) != `{"demand_id":"dmd_1","score":2.5}` || body.NotificationID != d[0].NotificationID {
			t.Fatalf("body %s", rcv.bodies[0])
		}
		// A tampered body does not verify.
		pub, _ := notify.ParsePublicKey(hook.PublicKey)
		tampered := bytes.Replace(rcv.bodies[0], []byte("dmd_1"), []byte("dmd_9"), 1)
		if err := notify.Verify(pub, rcv.got[0], tampered, w.clock.Now(), time.Hour*2); err == nil {
			t.Fatal("a tampered body verifies")
		}
		inbox, _ := w.svc.Inbox(ctx, w.member, 10)
		if len(inbox) != 2 {
			t.Fatalf("inbox has %d notifications, want 2", len(inbox))
		}
	})
}

// A delivery that never succeeds fails after the schedule; it can be redelivered.
// An endpoint answering 410 Gone is disabled. Rotation signs with both keys for a day.
func TestWebhookFailureGoneAndRotation(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine, notify.Options{AllowPrivate: true, Schedule: []time.Duration{time.Minute}})
		ctx := context.Background()
		rcv := newReceiver(t, w.clock, 500, 500, 200, 410)
		hook, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: rcv.URL})
		if err != nil {
			t.Fatal(err)
		}
		w.send(w.member.ParticipantID, "quote.accepted", map[string]any{"quote_id": "quo_1"})
		w.deliver()
		w.clock.Advance(2 * time.Minute)
		w.deliver()
		d := w.deliveries(hook.ID)
		if d[0].Status != "failed" || d[0].Attempts != 2 {
			t.Fatalf("after the schedule: %+v", d[0])
		}
		_, err = w.svc.Redeliver(ctx, w.other, hook.ID, d[0].ID)
		if dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("someone else's redelivery: %v", err)
		}
		if _, err := w.svc.Redeliver(ctx, w.member, hook.ID, d[0].ID); err != nil {
			t.Fatal(err)
		}
		w.deliver()
		if d = w.deliveries(hook.ID); d[0].Status != "delivered" {
			t.Fatalf("redelivered: %+v", d[0])
		}
		_, err = w.svc.Redeliver(ctx, w.member, hook.ID, d[0].ID)
		if dataport.KindOf(err) != dataport.KindConflict {
			t.Fatalf("redelivering a delivered one: %v", err)
		}

		// Rotation: the next delivery carries signatures by the new and the old key.
		rotated, err := w.svc.Rotate(ctx, w.member, hook.ID)
		if err != nil || rotated.PublicKey == hook.PublicKey || rotated.PreviousKey != hook.PublicKey {
			t.Fatalf("rotate: %+v %v", rotated, err)
		}
		rcv.verifyBy = []string{hook.PublicKey, rotated.PublicKey}
		w.send(w.member.ParticipantID, "quote.accepted", map[string]any{"quote_id": "quo_2"})
		w.deliver() // answered 410 Gone
		rcv.mu.Lock()
		bad, sigs := rcv.bad, rcv.got[len(rcv.got)-1].Get(notify.HeaderSignature)
		rcv.mu.Unlock()
		if len(bad) > 0 || len(strings.Fields(sigs)) != 2 {
			t.Fatalf("rotated signatures %q: %v", sigs, bad)
		}
		hooks, _ := w.svc.Webhooks(ctx, w.member)
		if len(hooks) != 1 || hooks[0].Status != "disabled" {
			t.Fatalf("after 410: %+v", hooks)
		}
		var disabled []ledger.Filing
		w.db.Read(ctx, func(tx *store.Tx) error {
			disabled, err = ledger.List(tx, ledger.Filter{Subject: hook.ID, Type: "webhook.disabled"})
			return err
		})
		if len(disabled) != 1 {
			t.Fatalf("the disabling is not filed: %v", disabled)
		}
		// Disabled: new notifications reach the inbox only.
		w.send(w.member.ParticipantID, "quote.accepted", map[string]any{"quote_id": "quo_3"})
		if len(w.deliveries(hook.ID)) != 2 {
			t.Fatal("a disabled webhook got a delivery")
		}
		if _, err := w.svc.Enable(ctx, w.member, hook.ID); err != nil {
			t.Fatal(err)
		}
		// The old key stops signing after the grace period.
		w.clock.Advance(25 * time.Hour)
		rcv.verifyBy = []string{rotated.PublicKey}
		w.send(w.member.ParticipantID, "quote.accepted", map[string]any{"quote_id": "quo_4"})
		w.deliver()
		rcv.mu.Lock()
		sigs = rcv.got[len(rcv.got)-1].Get(notify.HeaderSignature)
		rcv.mu.Unlock()
		if len(strings.Fields(sigs)) != 1 {
			t.Fatalf("signatures after the grace period: %q", sigs)
		}
		// Deleting cancels what is pending.
		w.send(w.member.ParticipantID, "quote.accepted", map[string]any{"quote_id": "quo_5"})
		if _, err := w.svc.Delete(ctx, w.member, hook.ID); err != nil {
			t.Fatal(err)
		}
		if d = w.deliveries(hook.ID); d[0].Status != "cancelled" || w.deliver() != 0 {
			t.Fatalf("after delete: %+v", d[0])
		}
	})
}

// Without AllowPrivate the exchange refuses to connect into private networks, even
// when an endpoint's address turns private after registration (DNS rebinding).
func TestWebhookNeverCallsPrivateAddresses(t *testing.T) {
	w := setup(t, store.SQLite, notify.Options{AllowPrivate: true})
	ctx := context.Background()
	rcv := newReceiver(t, w.clock)
	hook, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: rcv.URL})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := notify.New(w.db, w.secret, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.send(w.member.ParticipantID, "demand.matched", map[string]any{})
	if _, err := strict.DeliverDue(ctx, 10); err != nil {
		t.Fatal(err)
	}
	d := w.deliveries(hook.ID)
	if rcv.hits() != 0 || d[0].Status != "pending" || !strings.Contains(d[0].LastError, "not a public address") {
		t.Fatalf("delivered into a private network: %d hits, %+v", rcv.hits(), d[0])
	}
}

// Two servers delivering at once send each delivery once: each holds a lease on what
// it sends.
func TestConcurrentDeliverersSendOnce(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine, notify.Options{AllowPrivate: true})
		ctx := context.Background()
		rcv := newReceiver(t, w.clock)
		if _, err := w.svc.Register(ctx, w.member, notify.NewWebhook{URL: rcv.URL}); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			w.send(w.member.ParticipantID, "demand.matched", map[string]any{"n": i})
		}
		second, _ := notify.New(w.db, w.secret, notify.Options{AllowPrivate: true})
		var wg sync.WaitGroup
		for _, s := range []*notify.Service{w.svc, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := s.DeliverDue(ctx, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if rcv.hits() != 40 {
			t.Fatalf("%d requests for 40 notifications", rcv.hits())
		}
	})
}
