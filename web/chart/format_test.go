package chart_test

import (
	"math"
	"testing"

	"github.com/dataport/dataport/web/chart"
)

func TestFormats(t *testing.T) {
	cases := []struct {
		f    chart.Format
		v    float64
		want string
	}{
		{chart.Money("¥", 2), 123456, "¥1,234.56"},
		{chart.Money("¥", 2), -123456, "-¥1,234.56"},
		{chart.Money("¥", 2), 5, "¥0.05"},
		{chart.Money("¥", 2), 0, "¥0.00"},
		{chart.Money("¥", 2), 50000, "¥500.00"},
		{chart.Money("¥", 2), 1<<53 - 1, "¥90,071,992,547,409.91"},
		{chart.Money("¥", 2), 1 << 61, "¥23,058,430,092,136,939.52"},
		{chart.Money("¥", 2), math.MaxInt64, "¥92,233,720,368,547,760.00"}, // beyond float64's exact integers: as near as it holds
		{chart.Money("¥", 2), 0.4, "¥0.00"},
		{chart.Money("JPY ", 0), 1234567, "JPY 1,234,567"},
		{chart.Money("KWD ", 3), 1234567, "KWD 1,234.567"},
		{chart.MoneyWhole("¥", 2), 50000, "¥500"},
		{chart.MoneyWhole("¥", 2), 50050, "¥500.50"},
		{chart.MoneyWhole("¥", 2), -2_000_000, "-¥20,000"},
		{chart.MoneyWhole("¥", 2), 0, "¥0"},
		{chart.Count, 0, "0"},
		{chart.Count, 999, "999"},
		{chart.Count, 1000, "1,000"},
		{chart.Count, -1234567, "-1,234,567"},
		{chart.Number(1), 1234.56, "1,234.6"},
		{chart.Number(2), -0.001, "0.00"},
		{chart.Percent(1), 0.034, "3.4%"},
		{chart.Percent(0), 0.05, "5%"},
		{chart.Percent(2), 1, "100.00%"},
		{chart.Percent(1), -0.0001, "0.0%"},
	}
	for _, c := range cases {
		if got := c.f(c.v); got != c.want {
			t.Errorf("format(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
