package demo

import (
	"context"
	"database/sql"
	"fmt"
)

// beer and donut are the rows the matchmaker serves.
type beer struct {
	Name       string  `json:"name"`
	Style      string  `json:"style"`
	ABV        float64 `json:"abv"`
	Bitterness int     `json:"ibu"`
}

type donut struct {
	Name      string `json:"name"`
	Flavor    string `json:"flavor"`
	Sweetness int    `json:"sweetness"`
	Stock     int64  `json:"stock"`
	BakedAgo  string `json:"bakedAgo,omitempty"`
}

var seedBeers = []beer{
	{"Pilsner", "lager", 4.8, 35}, {"Hefeweizen", "wheat", 5.2, 12}, {"Pale Ale", "ale", 5.5, 40},
	{"IPA", "ale", 6.8, 65}, {"Stout", "stout", 7.5, 45}, {"Porter", "stout", 5.9, 30},
	{"Saison", "farmhouse", 6.2, 28}, {"Sour", "wild", 4.5, 8},
}

var seedDonuts = []donut{
	{Name: "Glazed", Flavor: "sugar", Sweetness: 8}, {Name: "Chocolate", Flavor: "cocoa", Sweetness: 7},
	{Name: "Maple Bacon", Flavor: "smoke", Sweetness: 6}, {Name: "Lemon Curd", Flavor: "citrus", Sweetness: 5},
	{Name: "Cinnamon Sugar", Flavor: "spice", Sweetness: 6}, {Name: "Boston Cream", Flavor: "vanilla", Sweetness: 9},
}

const schema = `
CREATE TABLE beers (name TEXT PRIMARY KEY, style TEXT NOT NULL, abv REAL NOT NULL, ibu INTEGER NOT NULL);
CREATE TABLE donuts (name TEXT PRIMARY KEY, flavor TEXT NOT NULL, sweetness INTEGER NOT NULL);`

// seed creates the tables and fills them. It runs before any request, with no span in its context, so the
// traced driver records nothing for it.
func seed(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	for _, b := range seedBeers {
		if _, err := db.ExecContext(ctx, `INSERT INTO beers (name, style, abv, ibu) VALUES (?, ?, ?, ?)`, b.Name, b.Style, b.ABV, b.Bitterness); err != nil {
			return fmt.Errorf("seed beers: %w", err)
		}
	}
	for _, d := range seedDonuts {
		if _, err := db.ExecContext(ctx, `INSERT INTO donuts (name, flavor, sweetness) VALUES (?, ?, ?)`, d.Name, d.Flavor, d.Sweetness); err != nil {
			return fmt.Errorf("seed donuts: %w", err)
		}
	}
	return nil
}
