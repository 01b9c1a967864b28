package harvest_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade/tradetest"
)

// Registering a source makes its connector, which may reach the platform (a DSP
// peer's is connected to with the exchange's token): only the operator may have the
// exchange do that, so a caller who may not register is refused before the
// connector is made, whatever the request says.
func TestAddSourceRefusesBeforeReachingThePlatform(t *testing.T) {
	ctx := context.Background()
	w := tradetest.New(t, store.SQLite)
	made := 0
	svc := harvest.New(w.DB, w.Reg, w.Cat, nil, harvest.Connectors{harvest.KindDCAT: func(harvest.Source) (harvest.Connector, error) {
		made++
		return &records{}, nil
	}})
	n := harvest.NewSource{Name: "a peer", Kind: harvest.KindDCAT, Location: "https://platform.example/catalog", SupplierID: w.Supplier.ParticipantID,
		Settings: harvest.Settings{Scenarios: []string{"research"}, ComplianceReport: "0000000000000000000000000000000000000000000000000000000000000000"}}
	for _, c := range []struct {
		who   string
		actor dataport.Actor
		kind  dataport.Kind
	}{
		{"anonymous", dataport.Actor{}, dataport.KindUnauthorized},
		{"a buyer", w.Buyer, dataport.KindForbidden},
		{"a supplier", w.Supplier, dataport.KindForbidden},
	} {
		if _, err := svc.AddSource(ctx, c.actor, n); dataport.KindOf(err) != c.kind {
			t.Errorf("%s adds a source: %v, want %s", c.who, err, c.kind)
		}
		// An invalid request is refused as such only to the operator.
		bad := n
		bad.Settings.Scenarios = nil
		if _, err := svc.AddSource(ctx, c.actor, bad); dataport.KindOf(err) != c.kind {
			t.Errorf("%s adds an invalid source: %v, want %s", c.who, err, c.kind)
		}
	}
	if made != 0 {
		t.Fatalf("the connector was made %d times for callers who may not register a source", made)
	}
	if _, err := svc.AddSource(ctx, w.Operator, n); err != nil {
		t.Fatal(err)
	}
	if made != 1 {
		t.Fatalf("the operator's source made the connector %d times", made)
	}
}
