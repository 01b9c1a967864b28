package dsp

import (
	"encoding/json"
	"testing"

	"github.com/dataport/dataport"
)

// minorUnits reads odrl:payAmount exactly, the inverse of decimal.
func TestMinorUnits(t *testing.T) {
	for _, c := range []struct {
		s, cur string
		want   int64
		ok     bool
	}{
		{"5000.00", "CNY", 500000, true}, {"5000", "CNY", 500000, true}, {"5000.5", "CNY", 500050, true},
		{"1200", "JPY", 1200, true}, {"1.500", "KWD", 1500, true}, {"0.001", "CNY", 0, false},
		{"-1", "CNY", 0, false}, {"1e3", "CNY", 0, false}, {"", "CNY", 0, false}, {"12.5", "JPY", 0, false},
	} {
		got, ok := minorUnits(c.s, c.cur)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("minorUnits(%q, %s) = %d, %v; want %d, %v", c.s, c.cur, got, ok, c.want, c.ok)
		}
		if ok {
			if back, _ := minorUnits(decimal(dataport.Money{Amount: got, Currency: c.cur}), c.cur); back != got {
				t.Errorf("decimal and minorUnits disagree on %d %s", got, c.cur)
			}
		}
	}
}

// The verification's signature properties are the ones the service reads.
func TestVerificationExtension(t *testing.T) {
	raw, err := Encode(&ContractAgreementVerificationMessage{ProviderPID: "urn:p", ConsumerPID: "urn:c", SigningKey: "ed25519:00", Signature: "AA=="})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m[PropSigningKey] != "ed25519:00" || m[PropSignature] != "AA==" {
		t.Fatalf("encoded %s", raw)
	}
}
