// Package connectors joins the harvest's source kinds to their connectors: the
// set dataport serve runs with, and the console's tests too.
package connectors

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/awsodr"
	"github.com/dataport/dataport/harvest/ckan"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/harvest/feed"
)

// Standard returns the harvest's connectors by source kind. A source's settings'
// options reach its connector: for CKAN "query", "filter_query" and
// "page_size"; for a feed "format" (csv or jsonl; else from the extension).
func Standard() harvest.Connectors {
	return harvest.Connectors{
		harvest.KindAWSOpenData: func(s harvest.Source) (harvest.Connector, error) { return awsodr.New(s.Location), nil },
		harvest.KindCKAN: func(s harvest.Source) (harvest.Connector, error) {
			if err := httpURL(s.Location); err != nil {
				return nil, err
			}
			o := s.Settings.Options
			size, _ := strconv.Atoi(o["page_size"])
			return ckan.New(s.Location, ckan.Options{PageSize: size, Query: o["query"], FilterQuery: o["filter_query"]}), nil
		},
		harvest.KindDCAT: func(s harvest.Source) (harvest.Connector, error) {
			if err := httpURL(s.Location); err != nil {
				return nil, err
			}
			return dcat.New(s.Location, dcat.Options{}), nil
		},
		harvest.KindFeed: func(s harvest.Source) (harvest.Connector, error) {
			f := feed.Format(s.Settings.Options["format"])
			if f != "" && f != feed.CSV && f != feed.JSONL {
				return nil, fmt.Errorf("a feed is csv or jsonl, not %q", f)
			}
			return feed.New(s.Location, f), nil
		},
	}
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the location must be an http(s) URL, not %q", s)
	}
	return nil
}
