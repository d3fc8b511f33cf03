/// The country a phone number belongs to, from its E.164 country calling code.
///
/// No maintained Swift phone-number library is available to this package, so this is a compact
/// table of the ITU-T E.164 country calling code assignments (ITU-T Operational Bulletin list
/// "Assigned country codes"), mapped to ISO 3166-1 alpha-2 codes. Calling codes are a prefix
/// code (no assigned code is the prefix of another), so the first 1-, 2- or 3-digit match wins.
///
/// Shared codes, as chosen here:
/// - **+1 (NANP)**: Canada's area codes → `CA`; the Caribbean and Pacific members by their area
///   code (`+1 876` → `JM`, `+1 787` → `PR`, …); every other area code → `US`.
/// - **+7**: `+7 6…` and `+7 7…` → `KZ` (Kazakhstan); the rest → `RU`.
/// - Other shared codes go to the main country: +44 → `GB` (also Guernsey, Jersey, Isle of Man),
///   +47 → `NO`, +61 → `AU`, +262 → `RE`, +358 → `FI`, +590 → `GP`, +599 → `CW`, +39 → `IT`.
/// - Non-geographic codes (+800, +808, +870, +878, +881–+883, +888, +979) and unassigned ones
///   have no country: the declared country applies.
///
/// A number without a leading `+` is not E.164: the declared country applies to it.
public enum CallingCodes {
    /// The ISO country of an E.164 number (`+821012345678` → `KR`); nil when it is not E.164 or
    /// its code names no single country.
    public static func country(ofE164 number: String?) -> String? {
        guard let number, number.hasPrefix("+") else { return nil }
        let digits = number.dropFirst().filter { $0 != " " && $0 != "-" }
        guard digits.count >= 4, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        let text = String(digits)
        switch text.first {
        case "1": return nanp(areaCode: String(text.dropFirst().prefix(3)))
        case "7":
            let next = text.dropFirst().first
            return next == "6" || next == "7" ? "KZ" : "RU"
        default:
            for length in 2...3 {
                if let country = codes[String(text.prefix(length))] { return country }
            }
            return nil
        }
    }

    /// +1: by area code; `US` unless the area code belongs to Canada or another NANP member.
    static func nanp(areaCode: String) -> String {
        if canada.contains(areaCode) { return "CA" }
        return nanpMembers[areaCode] ?? "US"
    }

    static let canada: Set<String> = [
        "204", "226", "236", "249", "250", "257", "263", "289", "306", "343", "354", "365", "367", "368", "382",
        "403", "416", "418", "428", "431", "437", "438", "450", "460", "468", "474", "506", "514", "519", "548",
        "579", "581", "584", "587", "600", "604", "613", "622", "639", "647", "672", "683", "705", "709", "742",
        "753", "778", "780", "782", "807", "819", "825", "867", "873", "879", "902", "905",
    ]

    static let nanpMembers: [String: String] = [
        "242": "BS", "246": "BB", "264": "AI", "268": "AG", "284": "VG", "340": "VI", "345": "KY", "441": "BM",
        "473": "GD", "649": "TC", "658": "JM", "876": "JM", "664": "MS", "670": "MP", "671": "GU", "684": "AS",
        "721": "SX", "758": "LC", "767": "DM", "784": "VC", "787": "PR", "939": "PR", "809": "DO", "829": "DO",
        "849": "DO", "868": "TT", "869": "KN",
    ]

    /// Two- and three-digit codes (1 and 7 are handled above).
    static let codes: [String: String] = [
        "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT",
        "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE",
        "51": "PE", "52": "MX", "53": "CU", "54": "AR", "55": "BR", "56": "CL", "57": "CO", "58": "VE",
        "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG", "66": "TH",
        "81": "JP", "82": "KR", "84": "VN", "86": "CN",
        "90": "TR", "91": "IN", "92": "PK", "93": "AF", "94": "LK", "95": "MM", "98": "IR",
        "211": "SS", "212": "MA", "213": "DZ", "216": "TN", "218": "LY", "220": "GM", "221": "SN", "222": "MR",
        "223": "ML", "224": "GN", "225": "CI", "226": "BF", "227": "NE", "228": "TG", "229": "BJ", "230": "MU",
        "231": "LR", "232": "SL", "233": "GH", "234": "NG", "235": "TD", "236": "CF", "237": "CM", "238": "CV",
        "239": "ST", "240": "GQ", "241": "GA", "242": "CG", "243": "CD", "244": "AO", "245": "GW", "246": "IO",
        "247": "SH", "248": "SC", "249": "SD", "250": "RW", "251": "ET", "252": "SO", "253": "DJ", "254": "KE",
        "255": "TZ", "256": "UG", "257": "BI", "258": "MZ", "260": "ZM", "261": "MG", "262": "RE", "263": "ZW",
        "264": "NA", "265": "MW", "266": "LS", "267": "BW", "268": "SZ", "269": "KM", "290": "SH", "291": "ER",
        "297": "AW", "298": "FO", "299": "GL",
        "350": "GI", "351": "PT", "352": "LU", "353": "IE", "354": "IS", "355": "AL", "356": "MT", "357": "CY",
        "358": "FI", "359": "BG", "370": "LT", "371": "LV", "372": "EE", "373": "MD", "374": "AM", "375": "BY",
        "376": "AD", "377": "MC", "378": "SM", "379": "VA", "380": "UA", "381": "RS", "382": "ME", "383": "XK",
        "385": "HR", "386": "SI", "387": "BA", "389": "MK",
        "420": "CZ", "421": "SK", "423": "LI",
        "500": "FK", "501": "BZ", "502": "GT", "503": "SV", "504": "HN", "505": "NI", "506": "CR", "507": "PA",
        "508": "PM", "509": "HT", "590": "GP", "591": "BO", "592": "GY", "593": "EC", "594": "GF", "595": "PY",
        "596": "MQ", "597": "SR", "598": "UY", "599": "CW",
        "670": "TL", "672": "NF", "673": "BN", "674": "NR", "675": "PG", "676": "TO", "677": "SB", "678": "VU",
        "679": "FJ", "680": "PW", "681": "WF", "682": "CK", "683": "NU", "685": "WS", "686": "KI", "687": "NC",
        "688": "TV", "689": "PF", "690": "TK", "691": "FM", "692": "MH",
        "850": "KP", "852": "HK", "853": "MO", "855": "KH", "856": "LA", "880": "BD", "886": "TW",
        "960": "MV", "961": "LB", "962": "JO", "963": "SY", "964": "IQ", "965": "KW", "966": "SA", "967": "YE",
        "968": "OM", "970": "PS", "971": "AE", "972": "IL", "973": "BH", "974": "QA", "975": "BT", "976": "MN",
        "977": "NP", "992": "TJ", "993": "TM", "994": "AZ", "995": "GE", "996": "KG", "998": "UZ",
    ]
}
