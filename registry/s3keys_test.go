package registry_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// S3 access keys: issued to a participant with the secret shown once and never
// stored; the secret checks until the key is revoked; the key acts as its
// participant, as a buyer, until the participant is suspended.
func TestS3Keys(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		keys := e.reg.S3Keys(bytes.Repeat([]byte{3}, 32))
		buyer, err := e.reg.CreateParticipant(ctx, e.operator, domesticBuyer())
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.reg.CreateParticipant(ctx, e.operator, domesticAgent())
		if err != nil {
			t.Fatal(err)
		}
		me := dataport.Actor{ParticipantID: buyer.ID, Roles: []dataport.Role{dataport.RoleBuyer}}
		stranger := dataport.Actor{ParticipantID: other.ID, Roles: []dataport.Role{dataport.RoleAgent}}

		if _, _, err := keys.Create(ctx, me, buyer.ID, " "); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("empty name: %v", err)
		}
		if _, _, err := keys.Create(ctx, stranger, buyer.ID, "theirs"); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("a key for another participant: %v", err)
		}
		k, secret, err := keys.Create(ctx, me, buyer.ID, "rclone on the analytics cluster")
		if err != nil {
			t.Fatal(err)
		}
		if len(k.ID) != 20 || len(secret) != 40 {
			t.Fatalf("key %q secret %q", k.ID, secret)
		}
		// Nothing secret at rest: the secret appears in no column of the table.
		e.db.Read(ctx, func(tx *store.Tx) error {
			var row string
			tx.QueryRow(`SELECT id || name || participant_id || created_by || created_at FROM s3_keys WHERE id = $1`, k.ID).Scan(&row)
			if bytes.Contains([]byte(row), []byte(secret)) {
				t.Fatal("the secret is stored")
			}
			return nil
		})
		if got, err := keys.Secret(ctx, k.ID); err != nil || got != secret {
			t.Fatalf("secret = %q, %v", got, err)
		}
		if other := e.reg.S3Keys(bytes.Repeat([]byte{4}, 32)); true {
			if got, _ := other.Secret(ctx, k.ID); got == secret {
				t.Fatal("another root derives the same secret")
			}
		}
		a, err := keys.Actor(ctx, k.ID)
		if err != nil || a.ParticipantID != buyer.ID || !a.Has(dataport.RoleBuyer) {
			t.Fatalf("actor %+v, %v", a, err)
		}
		if _, err := keys.Secret(ctx, "DPAKAAAAAAAAAAAAAAAA"); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("unknown key: %v", err)
		}
		if _, err := keys.Secret(ctx, "AKIA' OR 1=1 --"); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("a malformed key: %v", err)
		}
		list, err := keys.List(ctx, me, buyer.ID)
		if err != nil || len(list) != 1 || list[0].Name != "rclone on the analytics cluster" {
			t.Fatalf("list %+v, %v", list, err)
		}
		if _, err := keys.List(ctx, stranger, buyer.ID); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("another's list: %v", err)
		}

		// A suspension stops the key at once; lifting it restores it.
		if _, err := e.reg.Suspend(ctx, e.operator, buyer.ID, "under investigation"); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Actor(ctx, k.ID); dataport.KindOf(err) != dataport.KindForbidden {
			t.Fatalf("suspended: %v", err)
		}
		if _, err := e.reg.Resume(ctx, e.operator, buyer.ID, "cleared"); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Revoke(ctx, stranger, buyer.ID, k.ID); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("another revokes: %v", err)
		}
		if _, err := keys.Revoke(ctx, me, buyer.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Revoke(ctx, me, buyer.ID, k.ID); dataport.KindOf(err) != dataport.KindConflict {
			t.Fatalf("revoked twice: %v", err)
		}
		if _, err := keys.Secret(ctx, k.ID); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("a revoked key's secret: %v", err)
		}
	})
}
