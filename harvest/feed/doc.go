// Package feed reads a partner feed: the file a platform without a public catalog
// API publishes (or hands over) so that the exchange can list its datasets. This
// comment is the reference of the format.
//
// # The partner feed format, version 1
//
// A feed is one file, CSV (RFC 4180) or JSON Lines (one JSON object per line,
// https://jsonlines.org), encoded in UTF-8; a leading byte order mark is allowed.
// Each record is one dataset. The file is read whole at every harvest: a dataset
// that disappears from it is delisted, a changed one is revised, so the feed must
// always list every dataset the partner offers. Publish it at a stable HTTPS URL (or
// deliver it as a file) and keep each dataset's id the same from one feed to the
// next.
//
// # Fields
//
// The same field names serve both formats.
//
//	Field              Required  Meaning
//	id                 yes       the dataset's id, stable across feeds and unique in the feed
//	title_zh, title_en one of    the title in Chinese, in English
//	summary_zh/_en               a one-line summary
//	description_zh/_en           the full description
//	publisher                    who manages the data
//	contact                      an e-mail address or a URL
//	homepage                     the dataset's landing page: an absolute http(s) URL
//	keywords                     words to find the dataset by
//	categories                   the partner's own themes or groups
//	license                      an SPDX id ("CC-BY-4.0"), a licence URL, or prose
//	update_frequency             as the partner says it ("monthly", "实时", "R/P1D")
//	citation                     how to cite the dataset
//	issued, modified             an RFC 3339 date-time with its zone
//	                             ("2024-06-30T08:00:00+08:00") or a date ("2024-06-30", UTC)
//	deprecated                   true when the dataset is withdrawn but still listed
//	distributions                how to get the data: URL, format, … (see each format)
//
// Any other field is kept as it is, so that a change in it revises the dataset too.
// Empty values count as absent.
//
// # CSV
//
// The first row is the header: field names in any order, case-insensitive, each at
// most once; id and at least one of title_zh and title_en must be among them. Every
// row has as many fields as the header. In CSV, keywords and categories are
// separated by semicolons (";", or the full-width "；"), and distributions take two
// columns: distribution_urls, absolute URLs separated by spaces, and
// distribution_formats, the format of each URL in the same order, separated by
// semicolons (leave one empty, "CSV;;JSON", when unknown). deprecated is true or
// false (1 or 0, yes or no, in any case; empty is false). Quote a field that holds a
// comma, a quote or a line break, doubling the quotes inside ("say ""hi""").
//
//	id,title_zh,title_en,summary_en,publisher,contact,keywords,categories,license,update_frequency,issued,modified,distribution_urls,distribution_formats
//	PX-001,上海港集装箱吞吐量,Shanghai port container throughput,Monthly TEU by terminal,Example Port Group,opendata@port.example.com,港口;集装箱;shipping,transport,CC-BY-4.0,monthly,2023-01-01,2024-06-30T08:00:00+08:00,https://port.example.com/teu.csv https://port.example.com/teu.json,CSV;JSON
//	PX-002,,"Berth occupancy, hourly",,Example Port Group,https://port.example.com/contact,berths,transport,,hourly,2024-01-01,,https://port.example.com/berths.csv,CSV
//
// # JSON Lines
//
// One JSON object per line (blank lines are skipped), with the fields above as
// members: text fields are strings, keywords and categories are arrays of strings,
// deprecated is a boolean, and distributions is an array of objects with url
// (required, an absolute URL), title, format, media_type (e.g. "text/csv") and
// size (bytes).
//
//	{"id": "PX-001", "title_zh": "上海港集装箱吞吐量", "title_en": "Shanghai port container throughput", "keywords": ["港口", "集装箱"], "categories": ["transport"], "license": "CC-BY-4.0", "issued": "2023-01-01", "distributions": [{"url": "https://port.example.com/teu.csv", "format": "CSV", "media_type": "text/csv", "size": 20480}]}
//	{"id": "PX-002", "title_en": "Berth occupancy, hourly", "contact": "https://port.example.com/contact", "update_frequency": "hourly", "deprecated": true}
//
// # Problems
//
// A record that breaks a rule above — no id, no title, a date, URL, contact or
// boolean that does not parse, an id already used on an earlier line, a CSV row with
// the wrong number of fields, a line that is not a JSON object, text that is not
// UTF-8 — is reported with its line number and left out; the rest of the feed is
// read. A left-out dataset whose id can be read stays listed as it was until the
// line is fixed; a line whose id cannot be read holds back every delisting of that
// harvest, since any dataset might be the one on it. The whole feed fails (and nothing is delisted) only when it cannot be read:
// the file or URL is not there, the CSV header lacks id or a title column, or the
// connection breaks.
package feed
