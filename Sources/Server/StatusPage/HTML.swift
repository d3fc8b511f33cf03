/// Server-rendered HTML in plain Swift for the status page: every value goes through ``escape``;
/// markup is only ever built from literals in this module.
enum HTML {
    /// Text or an attribute value, safe between tags and inside double quotes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A table: escaped header cells, rows of cells that are already HTML (build them with `escape`).
    static func table(_ headers: [String], _ rows: [[String]], empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(escape(empty))</p>" }
        let head = headers.map { "<th>\(escape($0))</th>" }.joined()
        // data-label: the column's name, shown beside each cell when a phone stacks the rows.
        let body = rows.map { row in
            "<tr>" + row.enumerated().map { index, cell in
                "<td data-label=\"\(escape(index < headers.count ? headers[index] : ""))\">\(cell)</td>"
            }.joined() + "</tr>"
        }.joined(separator: "\n")
        return "<div class=\"scroll\"><table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table></div>"
    }

    /// The whole page: a viewport for phones, a little CSS, no script.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 12px; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
        .scroll { overflow-x: auto; } table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
        th { background: #f6f6f6; font-weight: 600; } td.num, th.num { text-align: right; }
        .muted { color: #777; } .bad { color: #b00020; font-weight: 600; } .ok { color: #1b7f3b; }
        ol.errors { margin: 0; padding-left: 1.2em; font-size: .9em; } code { font-size: .9em; }
        button { padding: 6px 14px; font-size: 1em; } input { padding: 5px; font-size: 1em; }
        .flash { background: #eef7ee; border: 1px solid #b8dcb8; padding: 8px; }
        @media (max-width: 640px) {
          table, tbody, tr, td { display: block; width: auto; } thead { display: none; }
          tr { border: 1px solid #ddd; border-radius: 6px; margin: 8px 0; padding: 4px 0; }
          td { border: none; padding: 2px 8px; }
          td[data-label]:not([data-label=""])::before { content: attr(data-label) ": "; font-weight: 600; color: #555; }
        }
        </style></head>
        <body>
        \(body)
        </body></html>

        """
    }
}
