package chart

import (
	"math"
	"strconv"
	"strings"
)

// A Format writes a value as a person reads it: an amount of money from minor
// units, a count, a percent. Charts call it for tick labels, tooltips and the
// data table; the page chooses it, as it knows the unit and the language.
type Format func(v float64) string

// Number formats with the given decimals and thousands separators: 12,345.6.
func Number(decimals int) Format {
	return func(v float64) string { return grouped(v, decimals) }
}

// Count formats a whole number with thousands separators: 12,345.
var Count Format = Number(0)

// Percent formats a fraction (0.034, as the exchange's rates are stored) as a
// percent with the given decimals: 3.4%.
func Percent(decimals int) Format {
	return func(v float64) string { return grouped(v*100, decimals) + "%" }
}

// Money formats an amount in minor units (fen, cents: dataport.Money.Amount)
// as the major unit with digits decimals (the currency's minor-unit digits, 2
// for CNY), after symbol: Money("¥", 2)(123456) is "¥1,234.56", and a negative
// amount is "-¥1,234.56".
func Money(symbol string, digits int) Format {
	return func(v float64) string { return money(symbol, digits, v, false) }
}

// MoneyWhole is Money without the minor digits when they are all zero
// ("¥500" rather than "¥500.00"): for tick labels, which are round numbers
// and read faster short.
func MoneyWhole(symbol string, digits int) Format {
	return func(v float64) string { return money(symbol, digits, v, true) }
}

func money(symbol string, digits int, minor float64, trimWhole bool) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	var s string
	if minor == math.Trunc(minor) && minor < 1<<62 && digits >= 0 && digits <= 18 {
		// A whole number of minor units, as money always is: split it in
		// integers, exactly, where dividing a float could round the last
		// digit of a large amount.
		n, unit := int64(minor), int64(1)
		for range digits {
			unit *= 10
		}
		s = groupDigits(strconv.FormatInt(n/unit, 10))
		if frac := n % unit; digits > 0 && !(trimWhole && frac == 0) {
			f := strconv.FormatInt(frac, 10)
			s += "." + strings.Repeat("0", digits-len(f)) + f
		}
	} else {
		s = grouped(minor/pow10(digits), digits)
		if trimWhole && digits > 0 && strings.Trim(s[strings.IndexByte(s, '.')+1:], "0") == "" {
			s = grouped(minor/pow10(digits), 0)
		}
	}
	if strings.Trim(s, "0.,") == "" {
		sign = "" // no "-¥0.00" for a tiny negative rounded away
	}
	return sign + symbol + s
}

// grouped formats v with decimals and a comma between each three digits of
// the whole part.
func grouped(v float64, decimals int) string {
	decimals = max(decimals, 0)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if strings.Trim(whole+frac, "0") == "" {
		sign = "" // -0.00 reads as 0.00
	}
	s = sign + groupDigits(whole)
	if frac != "" {
		s += "." + frac
	}
	return s
}

// groupDigits puts a comma between each three digits of a whole number.
func groupDigits(whole string) string {
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plain is the default Format: the shortest decimal that reads back as v, with
// thousands separators.
func plain(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	s = sign + groupDigits(whole)
	if frac != "" {
		s += "." + frac
	}
	return s
}
