package chart

import (
	"fmt"
	"io"
	"strings"

	"github.com/dataport/dataport"
)

// TimeSeries is a line chart of one or more series over days: daily sales,
// daily orders, a score's history. Each point is a marker with its exact value
// as a tooltip; series differ by colour, dash and marker shape.
//
// Series on one chart share its value axis, so they must share a unit: draw
// sales and orders as two charts over the same days, one above the other,
// rather than one chart with two scales.
type TimeSeries struct {
	Frame
	Days    DayAxis
	Value   Axis
	Missing Missing
	Series  []Series
}

// RateSeries is a TimeSeries of rates (return rate, complaint rate): values
// are fractions (0.034), the axis starts at zero, and unless the axis says
// otherwise its ticks and tooltips are percents.
type RateSeries TimeSeries

// DayBars is a bar chart by day: receivables due by day, orders by day. With
// several series the bars of a day stand side by side, or stacked when
// Stacked is set (only for parts of one whole). Series differ by colour and
// fill pattern.
type DayBars struct {
	Frame
	Days    DayAxis
	Value   Axis
	Missing Missing // Gap or Zero
	Stacked bool
	Series  []Series
}

// CategoryBars is a bar chart by category: a portfolio's outstanding by risk
// grade or by product. Bars run across, one row per category, so that long
// category names stay readable on a phone; with several series a row's bars
// are grouped, or stacked when Stacked is set (outstanding current and
// overdue, say: parts of the row's whole). Negative values extend to the left
// of zero.
type CategoryBars struct {
	Frame
	// Categories are the rows, top to bottom.
	Categories []string
	// CategoryTitle names the categories ("Grade", "风险等级"), above the
	// rows and over the table's first column.
	CategoryTitle string
	Value         Axis
	Stacked       bool
	Series        []CategorySeries
}

// CategorySeries is one named quantity per category.
type CategorySeries struct {
	Name   string
	Values []float64 // one per category, in the order of Categories
}

func (c *TimeSeries) model(op string) (*model, error) {
	return daysModel(op, kindLines, c.Frame, c.Days, c.Value, c.Missing, c.Series)
}

func (c *RateSeries) model(op string) (*model, error) {
	m, err := (*TimeSeries)(c).model(op)
	if err != nil {
		return nil, err
	}
	m.percent = true
	m.value.Fit = false // a rate is read against zero
	return m, nil
}

func (c *DayBars) model(op string) (*model, error) {
	m, err := daysModel(op, kindDayBars, c.Frame, c.Days, c.Value, c.Missing, c.Series)
	if err != nil {
		return nil, err
	}
	m.stacked = c.Stacked
	return m, nil
}

func (c *CategoryBars) model(op string) (*model, error) {
	var p dataport.Problems
	checkFrame(&p, &c.Frame)
	if len(c.Series) > MaxSeries {
		p.Add("series", "at most %d series can be told apart; draw another chart", MaxSeries)
	}
	if len(c.Categories) > MaxCategories {
		p.Add("categories", "at most %d categories can be drawn", MaxCategories)
	}
	for i, name := range c.Categories {
		if strings.TrimSpace(name) == "" {
			p.Add(fmt.Sprintf("categories[%d]", i), "a category needs a name")
		}
	}
	for i, s := range c.Series {
		if strings.TrimSpace(s.Name) == "" && len(c.Series) > 1 {
			p.Add(fmt.Sprintf("series[%d].name", i), "series need names to be told apart in the legend")
		}
		if len(s.Values) != len(c.Categories) {
			p.Add(fmt.Sprintf("series[%d].values", i), "has %d values for %d categories", len(s.Values), len(c.Categories))
			continue
		}
		for j, v := range s.Values {
			checkValue(&p, fmt.Sprintf("series[%d].values[%d]", i, j), v)
		}
	}
	if err := p.Err(op); err != nil {
		return nil, err
	}
	m := newModel(kindCategories, c.Frame, c.CategoryTitle, c.Value)
	m.stacked, m.xShort, m.xLong = c.Stacked, c.Categories, c.Categories
	for _, s := range c.Series {
		given := make([]bool, len(s.Values))
		for j := range given {
			given[j] = true
		}
		m.series = append(m.series, mseries{name: strings.TrimSpace(s.Name), values: s.Values, given: given})
	}
	return m, nil
}

// WriteSVG writes the chart as SVG.
func (c *TimeSeries) WriteSVG(w io.Writer) error {
	return writeSVG(w, "chart.TimeSeries.WriteSVG", c.model)
}

// WriteTable writes the chart's data as an HTML table.
func (c *TimeSeries) WriteTable(w io.Writer) error {
	return writeTable(w, "chart.TimeSeries.WriteTable", c.model)
}

// WriteSVG writes the chart as SVG.
func (c *RateSeries) WriteSVG(w io.Writer) error {
	return writeSVG(w, "chart.RateSeries.WriteSVG", c.model)
}

// WriteTable writes the chart's data as an HTML table.
func (c *RateSeries) WriteTable(w io.Writer) error {
	return writeTable(w, "chart.RateSeries.WriteTable", c.model)
}

// WriteSVG writes the chart as SVG.
func (c *DayBars) WriteSVG(w io.Writer) error {
	return writeSVG(w, "chart.DayBars.WriteSVG", c.model)
}

// WriteTable writes the chart's data as an HTML table.
func (c *DayBars) WriteTable(w io.Writer) error {
	return writeTable(w, "chart.DayBars.WriteTable", c.model)
}

// WriteSVG writes the chart as SVG.
func (c *CategoryBars) WriteSVG(w io.Writer) error {
	return writeSVG(w, "chart.CategoryBars.WriteSVG", c.model)
}

// WriteTable writes the chart's data as an HTML table.
func (c *CategoryBars) WriteTable(w io.Writer) error {
	return writeTable(w, "chart.CategoryBars.WriteTable", c.model)
}

// writeSVG validates, renders into memory and writes once, so that an
// invalid chart writes nothing into the page.
func writeSVG(w io.Writer, op string, build func(string) (*model, error)) error {
	m, err := build(op)
	if err != nil {
		return err
	}
	_, err = w.Write(render(m))
	return dataport.Wrap(op, err)
}

func writeTable(w io.Writer, op string, build func(string) (*model, error)) error {
	m, err := build(op)
	if err != nil {
		return err
	}
	_, err = w.Write(table(m))
	return dataport.Wrap(op, err)
}
