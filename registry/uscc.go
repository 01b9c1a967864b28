package registry

import (
	"fmt"
	"strings"
)

// The unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from
// a 31-character alphabet (digits and capitals without I, O, S, V, Z).
//
//	position 1     registration authority (e.g. 9 = market regulation)
//	position 2     entity type (e.g. 1 = enterprise)
//	positions 3–8  administrative division code (GB/T 2260), digits
//	positions 9–17 organisation code (GB 11714)
//	position 18    check character
//
// The check character is C18 = 31 − (Σ Ci·Wi mod 31), with 31 written as 0, where Ci
// is the value of the i-th character in the alphabet and Wi = 3^(i−1) mod 31.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccCheck returns the check character for the first 17 characters of a code.
func usccCheck(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("want 17 characters, have %d", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %d (%q) is not allowed in a unified social credit code", i+1, first17[i])
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccAlphabet[c], nil
}

// ValidateUSCC checks the structure and check character of a unified social credit
// code and explains what is wrong in one sentence.
func ValidateUSCC(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("a unified social credit code has 18 characters, this one has %d", len([]rune(code)))
	}
	for i := 2; i < 8; i++ {
		if code[i] < '0' || code[i] > '9' {
			return fmt.Errorf("characters 3 to 8 (the administrative division code) must be digits")
		}
	}
	want, err := usccCheck(code[:17])
	if err != nil {
		return err
	}
	if c := code[17]; strings.IndexByte(usccAlphabet, c) < 0 {
		return fmt.Errorf("character 18 (%q) is not allowed in a unified social credit code", c)
	} else if c != want {
		return fmt.Errorf("check character is %q, but GB 32100-2015 gives %q for the first 17 characters", c, want)
	}
	return nil
}

// CompleteUSCC appends the check character to the first 17 characters of a code. The
// demo world uses it to make codes that validate.
func CompleteUSCC(first17 string) (string, error) {
	c, err := usccCheck(first17)
	if err != nil {
		return "", err
	}
	return first17 + string(c), nil
}
