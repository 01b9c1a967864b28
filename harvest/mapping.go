package harvest

import (
	"regexp"
	"strings"
)

// Frequency maps a source's update frequency to the catalog's: ISO-ish words in
// English ("Daily", "Not updated", "Every 6 hours") and the EU/Dublin Core
// frequency vocabulary (http://purl.org/cld/freq/…, …/frequency/DAILY).
func Frequency(s string) string {
	f := strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexAny(f, "/#"); i >= 0 && strings.Contains(f, "://") {
		f = f[i+1:]
	}
	switch {
	case f == "":
		return ""
	case strings.Contains(f, "not updated"), strings.Contains(f, "never"), f == "once":
		return "once"
	case strings.Contains(f, "real"), strings.Contains(f, "continu"), strings.Contains(f, "cont"), strings.Contains(f, "minute"), strings.Contains(f, "second"):
		return "realtime"
	case strings.Contains(f, "hour"):
		return "hourly"
	case strings.Contains(f, "daily"), strings.Contains(f, "day"):
		return "daily"
	case strings.Contains(f, "week"):
		return "weekly"
	case strings.Contains(f, "quarter"):
		return "quarterly"
	case strings.Contains(f, "month"):
		return "monthly"
	case strings.Contains(f, "annual"), strings.Contains(f, "year"):
		return "yearly"
	}
	return "irregular"
}

// categories maps words of a record's themes and keywords to the exchange's
// categories, first match wins, in this order.
var categories = []struct {
	category string
	words    []string
}{
	{"climate", []string{"climate", "weather", "meteorolog", "atmosphere", "ocean", "environment", "air quality", "disaster"}},
	{"energy", []string{"energy", "electricity", "oil", "gas", "solar", "wind power", "power grid"}},
	{"shipping", []string{"shipping", "maritime", "transport", "logistics", "traffic", "mobility", "aviation"}},
	{"finance", []string{"financ", "economic", "econom", "market", "trade", "bank"}},
	{"health", []string{"health", "medic", "genom", "genetic", "biolog", "life science", "bioinformatic", "disease", "cancer"}},
	{"geospatial", []string{"geospatial", "satellite", "earth observation", "imagery", "elevation", "lidar", "mapping", "gis"}},
	{"agriculture", []string{"agricultur", "crop", "food", "farm"}},
	{"e-commerce", []string{"e-commerce", "ecommerce", "retail"}},
}

var categoryName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// Category picks the exchange category of a record from its themes, then its
// keywords; def when none fits.
func Category(r Record, def string) string {
	for _, words := range [][]string{r.Categories, r.Keywords} {
		for _, c := range categories {
			for _, w := range words {
				lw := strings.ToLower(w)
				for _, k := range c.words {
					if strings.Contains(lw, k) {
						return c.category
					}
				}
			}
		}
	}
	if categoryName.MatchString(def) {
		return def
	}
	return "open-data"
}

// openLicences are licence names, ids and URL fragments the exchange recognises
// as open (Open Definition conformant): what auto-listing may rely on.
var openLicences = []string{
	"cc0", "cc-by", "cc by", "creativecommons.org/licenses/by", "creativecommons.org/publicdomain",
	"odc-by", "odc-odbl", "odbl", "opendatacommons", "pddl", "public domain", "publicdomain",
	"apache-2.0", "apache license", "mit license", "open government licence", "ogl",
	"licence ouverte", "dl-de/by", "nlod", "us government work", "u.s. government work", "no restrictions",
}

// OpenLicence reports whether a licence text, id or URL names an open licence.
// "CC BY-NC" and "-ND" variants are not open.
func OpenLicence(l string) bool {
	s := strings.ToLower(l)
	if strings.Contains(s, "-nc") || strings.Contains(s, " nc ") || strings.Contains(s, "noncommercial") || strings.Contains(s, "non-commercial") ||
		strings.Contains(s, "-nd") || strings.Contains(s, "noderiv") {
		return false
	}
	for _, o := range openLicences {
		if strings.Contains(s, o) {
			return true
		}
	}
	return false
}
