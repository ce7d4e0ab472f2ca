"""The one search box of the navigation bar: patients, lots, batches, cocktails and
ingredients, with each role's rights; a scanned vial or batch label opens it."""
