package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestReplicasShareOneIntegrator runs the log on two handles of one database, as
// two replicas do: one integrates, the other follows its checkpoints (so a filing
// made through the follower is covered there too), and when the integrator stops
// the follower takes over and extends the same tree.
func TestReplicasShareOneIntegrator(t *testing.T) {
	defer func(d time.Duration) { store.LeadRetry = d }(store.LeadRetry)
	store.LeadRetry = 20 * time.Millisecond
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		skey, vkey, err := ledger.GenerateKey("log.test.example/dataport")
		if err != nil {
			t.Fatal(err)
		}
		type replica struct {
			db   *store.DB
			log  *ledger.Log
			stop func()
		}
		start := func() *replica {
			db, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			l, err := ledger.OpenLog(context.Background(), db, skey, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); l.Run(ctx, 20*time.Millisecond) }()
			r := &replica{db: db, log: l, stop: func() { cancel(); <-done }}
			t.Cleanup(r.stop)
			return r
		}
		a := start()
		waitLeader := func(r *replica) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); !r.db.Leading(ledger.IntegratorRole); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the replica never took the integrator's role")
				}
			}
		}
		waitLeader(a)
		b := start()

		covered := func(r *replica, size int64) ledger.Checkpoint {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cp, err := r.log.WaitCovered(ctx, size)
			if err != nil {
				t.Fatalf("filing %d not covered: %v", size, err)
			}
			return cp
		}
		// Filed through the follower, integrated by the leader, seen by both.
		// Seven leaves: the eighth's hash needs the seventh's, which the next
		// leader has never seen and reads from the store.
		file(t, b.db, 4)
		file(t, a.db, 3)
		cpB, cpA := covered(b, 7), covered(a, 7)
		if b.db.Leading(ledger.IntegratorRole) {
			t.Fatal("both replicas lead")
		}
		if cpB.Size != 7 || cpA.Size != 7 {
			t.Fatalf("checkpoints of size %d and %d, want 7", cpA.Size, cpB.Size)
		}

		// The integrator stops (its process ends): the follower takes over.
		a.stop()
		waitLeader(b)
		file(t, b.db, 5)
		cp := covered(b, 12)

		// One tree: the last checkpoint is signed by the log's key over all twelve
		// filings in their order, and extends the one signed before the takeover.
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(cp.Note, note.VerifierList(v)); err != nil {
			t.Fatalf("the checkpoint after the takeover: %v", err)
		}
		es := entries(t, b.db)
		tree, root := rebuild(t, es)
		if int64(len(es)) != cp.Size || root != cp.Root {
			t.Fatalf("checkpoint size %d root %x; the filings give %d and %x", cp.Size, cp.Root, len(es), root)
		}
		old, err := tlog.TreeHash(cpA.Size, tree)
		if err != nil || old != cpA.Root {
			t.Fatalf("the tree after the takeover does not extend the checkpoint of size %d", cpA.Size)
		}
	})
}
