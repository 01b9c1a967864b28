package finance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/store"
)

func TestFormatMicrosIsStoreFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []int64{1, 999_999, 1_000_000, 951_782_400_000_000 /* 2000-02-29 */, 4_102_444_799_999_999 /* 2099-12-31 */}
	for range 100_000 {
		cases = append(cases, 1+rng.Int64N(253_402_300_799_000_000)) // to 9999-12-31
	}
	for _, µs := range cases {
		if got, want := formatMicros(µs), store.FormatTime(time.UnixMicro(µs)); got != want {
			t.Fatalf("%d: %s, want %s", µs, got, want)
		}
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		major, minor, currency string
		want                   int64
		problem                string
	}{
		{"12.30", "", "CNY", 1230, ""},
		{"12.3", "", "CNY", 1230, ""},
		{"12", "", "CNY", 1200, ""},
		{"0.01", "", "CNY", 1, ""},
		{"012.30", "", "CNY", 1230, ""},
		{"12.345", "", "CNY", 0, "CNY has 2 decimals at most"},
		{"12.340", "", "CNY", 0, "CNY has 2 decimals at most"},
		{"500", "", "JPY", 500, ""},
		{"500.0", "", "JPY", 0, "JPY has no minor unit"},
		{"1.234", "", "KWD", 1234, ""},
		{"-1", "", "CNY", 0, "a decimal amount"},
		{"+1", "", "CNY", 0, "a decimal amount"},
		{"1.", "", "CNY", 0, "a decimal amount"},
		{".5", "", "CNY", 0, "a decimal amount"},
		{"1e3", "", "CNY", 0, "a decimal amount"},
		{"1 000", "", "CNY", 0, "a decimal amount"},
		{"10000000000000", "", "CNY", 1_000_000_000_000_000, ""},
		{"10000000000000.01", "", "CNY", 0, "too large"},
		{"999999999999999999", "", "CNY", 0, "too large"},
		{"", "1230", "CNY", 1230, ""},
		{"", "12.30", "CNY", 0, "whole number of minor units"},
		{"", "-5", "CNY", 0, "whole number of minor units"},
		{"1", "100", "CNY", 0, "not both"},
	} {
		v := &validator{}
		digits, _ := currencyDigits(c.currency)
		got, ok := v.money("amount", c.major, c.minor, digits, c.currency, true)
		switch {
		case c.problem == "" && (!ok || got != c.want || len(v.probs) > 0):
			t.Errorf("%+v: %d, %v, %v", c, got, ok, v.probs)
		case c.problem != "" && (ok || len(v.probs) != 1 || !strings.Contains(v.probs[0].Reason, c.problem)):
			t.Errorf("%+v: %d, %v, %v", c, got, ok, v.probs)
		}
	}
}

func TestDays(t *testing.T) {
	// 16:00 UTC is midnight in China: the day turns there.
	for _, c := range []struct {
		at   string
		want string
	}{
		{"2026-11-24T15:59:59Z", "2026-11-24"},
		{"2026-11-24T16:00:00Z", "2026-11-25"},
		{"2026-11-25T00:00:00+08:00", "2026-11-25"},
		{"1969-12-31T15:59:59Z", "1969-12-31"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := dayString(dayOf(at.UnixMicro())); got != c.want {
			t.Errorf("%s: %s, want %s", c.at, got, c.want)
		}
	}
	d, ok := parseDay("2026-12-05")
	if !ok || dayString(d) != "2026-12-05" {
		t.Fatal(d, ok)
	}
	for _, bad := range []string{"2026-12-5", "2026-13-01", "2026-02-30", "05/12/2026", ""} {
		if _, ok := parseDay(bad); ok {
			t.Errorf("%q taken", bad)
		}
	}
}

// The spool gives back exactly what it was given, past its memory into a file.
func TestSpool(t *testing.T) {
	sp := newSpool(t.TempDir())
	defer sp.close()
	const n = 250_000 // over 8 MiB of orders
	mk := func(i int) order {
		return order{line: int64(i + 2), shop: int32(i % 7), id: fmt.Sprintf("order-%d-%s", i, "x"), orderedAt: int64(i) * 1e6,
			cur: currencyIndex["CNY"], amount: int64(i * 3), status: uint8(1 + i%6), refund: int64(i), complaint: i%2 == 0, rating: int8(i % 6),
			shippedAt: int64(i) * 7, deliveredAt: -int64(i), settleOn: int32(i), settledAt: 1, updatedAt: int64(i) << 40}
	}
	for i := range n {
		o := mk(i)
		if err := sp.put(&o); err != nil {
			t.Fatal(err)
		}
	}
	if sp.file == nil {
		t.Fatal("never spilled to a file")
	}
	if err := sp.rewind(); err != nil {
		t.Fatal(err)
	}
	var o order
	for i := range n {
		ok, err := sp.next(&o)
		if err != nil || !ok || o != mk(i) {
			t.Fatalf("%d: %+v %v %v", i, o, ok, err)
		}
	}
	if ok, err := sp.next(&o); ok || err != nil {
		t.Fatal(ok, err)
	}
}

// Every currency has a plausible number of minor digits.
func TestCurrencies(t *testing.T) {
	for c, d := range minorDigits {
		if len(c) != 3 || d < 0 || d > 4 || currencyCodes[currencyIndex[c]] != c {
			t.Errorf("%s: %d", c, d)
		}
	}
	for _, c := range []string{"XYZ", "XXX", "XTS", "XAU", "cny", "CN"} {
		if _, ok := currencyDigits(c); ok {
			t.Errorf("%s taken", c)
		}
	}
}

// A line of any bytes is a row or a problem, never a panic; and a valid object's
// fields come back as encoding/json reads them.
func FuzzDecodeJSONRow(f *testing.F) {
	f.Add([]byte(`{"order_id": "a\"b", "amount": 12.30, "logistics": [{"event": "shipped", "at": "x"}], "complaint": true, "rating": null}`))
	f.Add([]byte(`{"sh\u006fp": "A", "status": "paid" , "currency":"CNY"}`))
	f.Add([]byte(`[{}]`))
	f.Add([]byte(`"x"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec [nFields]string
		field, why := decodeJSONRow(b, &rec)
		if why != "" {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("taken, but not an object: %v", err)
		}
		for name, raw := range m {
			i, ok := fieldIndexes[name]
			if !ok {
				t.Fatalf("unknown field %q taken (%s)", name, field)
			}
			if want := text(bytes.TrimSpace(raw)); rec[i] != want {
				t.Fatalf("%s = %q, want %q", name, rec[i], want)
			}
		}
	})
}
