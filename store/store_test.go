package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// TestConformance runs the shared storage suite on every engine.
func TestConformance(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		storetest.Run(t, func(t *testing.T, opts store.Options) *store.DB {
			return storetest.Open(t, engine, opts)
		})
	})
}

func TestOpenRejectsUnknownDSN(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://x", store.Options{})
	if dataport.KindOf(err) != dataport.KindInvalid || !strings.Contains(err.Error(), "sqlite:PATH") {
		t.Fatalf("err = %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		for i := 0; i < 2; i++ { // the second open finds every migration applied
			db, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatalf("open %d: %v", i+1, err)
			}
			v, err := db.SchemaVersion(context.Background())
			db.Close()
			if err != nil || v != db.LatestSchemaVersion() {
				t.Fatalf("open %d: schema version %d (%v)", i+1, v, err)
			}
		}
	})
}
