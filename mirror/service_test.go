package mirror_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/s3api"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// Registering upstreams: the operator only; bad input refused with the field and
// nothing stored; credentials sealed at rest and never shown; a removed upstream's
// bucket is gone and its name free again.
func TestUpstreamRegistry(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine, store.Options{})
		reg := registry.New(db)
		_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
		if err != nil {
			t.Fatal(err)
		}
		operator, _ := reg.Authenticate(ctx, token)
		cache, err := mirror.OpenCache(t.TempDir(), mirror.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close()
		svc, err := mirror.New(db, cache, bytes.Repeat([]byte{5}, 32))
		if err != nil {
			t.Fatal(err)
		}
		buyer := dataport.Actor{ParticipantID: "par_x", Roles: []dataport.Role{dataport.RoleBuyer}}
		noaa := mirror.NewUpstream{Name: "noaa-ghcn", ARN: "arn:aws:s3:::noaa-ghcn-pds", Region: "us-east-1"}
		if _, err := svc.Register(ctx, buyer, noaa); dataport.KindOf(err) == 0 || dataport.KindOf(err) == dataport.KindInternal {
			t.Fatalf("a buyer registers: %v", err)
		}
		for field, bad := range map[string]mirror.NewUpstream{
			"arn":    {Name: "x-data", ARN: "arn:aws:ec2:::i-123", Region: "us-east-1"},
			"region": {Name: "x-data", ARN: "arn:aws:s3:::bucket"},
			"name":   {Name: "deal-01abc", Endpoint: "s3.example.com", Bucket: "open-data"},
		} {
			_, err := svc.Register(ctx, operator, bad)
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("%s: %v", field, err)
			}
			found := false
			for _, f := range dataport.FieldsOf(err) {
				found = found || f.Field == field
			}
			if !found {
				t.Fatalf("%s: fields %+v", field, dataport.FieldsOf(err))
			}
		}
		if _, err := svc.Register(ctx, operator, mirror.NewUpstream{Name: "both", ARN: "arn:aws:s3:::b", Region: "us-east-1", Endpoint: "h", Bucket: "b"}); dataport.KindOf(err) != dataport.KindInvalid {
			t.Fatalf("ARN and endpoint: %v", err)
		}
		if ups, _ := svc.Upstreams(ctx, operator); len(ups) != 0 {
			t.Fatalf("refused registrations stored: %+v", ups)
		}

		info, err := svc.Register(ctx, operator, noaa)
		if err != nil {
			t.Fatal(err)
		}
		if info.Endpoint != "s3.us-east-1.amazonaws.com" || info.Bucket != "noaa-ghcn-pds" || !info.Anonymous || !info.Secure {
			t.Fatalf("from the ARN: %+v", info)
		}
		if _, err := svc.Register(ctx, operator, noaa); dataport.KindOf(err) != dataport.KindConflict {
			t.Fatalf("the same name twice: %v", err)
		}
		private := mirror.NewUpstream{Name: "partner-feed", Endpoint: "s3.partner.example:9000", Bucket: "feed", AccessKey: "AKIAPARTNER", SecretKey: "s3cr3t-partner-key"}
		if _, err := svc.Register(ctx, operator, private); err != nil {
			t.Fatal(err)
		}
		// Sealed at rest, never filed or listed; opened for the upstream requests.
		db.Read(ctx, func(tx *store.Tx) error {
			var creds string
			tx.QueryRow(`SELECT credentials FROM mirror_upstreams WHERE name = 'partner-feed'`).Scan(&creds)
			if creds == "" || strings.Contains(creds, "s3cr3t") || strings.Contains(creds, "AKIAPARTNER") {
				t.Fatalf("credentials at rest: %q", creds)
			}
			fs, _ := ledger.List(tx, ledger.Filter{Type: "mirror.upstream_registered"})
			if len(fs) != 2 {
				t.Fatalf("%d registrations filed", len(fs))
			}
			for _, f := range fs {
				if strings.Contains(string(f.Payload), "s3cr3t") {
					t.Fatal("a secret is filed")
				}
			}
			return nil
		})
		up, err := svc.Upstream(ctx, "partner-feed")
		if err != nil || up.SecretKey != "s3cr3t-partner-key" || up.AccessKey != "AKIAPARTNER" {
			t.Fatalf("opened %+v, %v", up, err)
		}
		other, _ := mirror.New(db, cache, bytes.Repeat([]byte{6}, 32))
		if _, err := other.Upstream(ctx, "partner-feed"); err == nil {
			t.Fatal("credentials opened under another key")
		}
		bs, err := svc.Buckets(ctx, s3api.Caller{})
		if err != nil || len(bs) != 2 {
			t.Fatalf("buckets %+v, %v", bs, err)
		}

		if _, err := svc.Remove(ctx, buyer, "noaa-ghcn"); err == nil {
			t.Fatal("a buyer removes an upstream")
		}
		if _, err := svc.Remove(ctx, operator, "noaa-ghcn"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Remove(ctx, operator, "noaa-ghcn"); dataport.KindOf(err) != dataport.KindNotFound {
			t.Fatalf("removed twice: %v", err)
		}
		if _, err := svc.Head(ctx, s3api.Caller{}, "noaa-ghcn", "x"); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
			t.Fatalf("a removed upstream's bucket: %v", err)
		}
		if _, err := svc.Register(ctx, operator, noaa); err != nil {
			t.Fatalf("registering a removed name again: %v", err)
		}
	})
}
