@testable import FollowUp
import Testing

/// The values `followup channel set` accepts, parsed without a database.
@Suite("Channel settings parsing") struct ChannelSettingsParsingTests {
    @Test("durations: plain seconds, h/m/s, and what is refused")
    func durations() {
        #expect(ChannelSettingsChange.parse(duration: "270") == 270)
        #expect(ChannelSettingsChange.parse(duration: "4m30s") == 270)
        #expect(ChannelSettingsChange.parse(duration: "10m") == 600)
        #expect(ChannelSettingsChange.parse(duration: "1h") == 3600)
        #expect(ChannelSettingsChange.parse(duration: "1.5s") == 1.5)
        #expect(ChannelSettingsChange.parse(duration: "0") == 0)
        for bad in ["", "10x", "m", "-5", "1h30", "ten minutes"] {
            #expect(ChannelSettingsChange.parse(duration: bad) == nil, "\(bad)")
        }
        #expect(ChannelSettingsChange.format(seconds: 270) == "4m30s")
        #expect(ChannelSettingsChange.format(seconds: 600) == "10m")
        #expect(ChannelSettingsChange.format(seconds: 0) == "0s")
    }

    @Test("quiet-hours windows, caps and toggles; every problem reported at once")
    func options() {
        #expect(ChannelSettingsChange.parse(window: "21:00-08:00").map { "\($0.start) \($0.end)" } == "21:00 08:00")
        #expect(ChannelSettingsChange.parse(window: "9:30 – 17:00").map { "\($0.start) \($0.end)" } == "09:30 17:00")
        for bad in ["21:00", "21:00-21:00", "24:00-08:00", "21:0-08:00", "a-b"] {
            #expect(ChannelSettingsChange.parse(window: bad) == nil, "\(bad)")
        }
        let (change, problems) = ChannelSettingsChange.parse(["quiet-hours": "off", "max-texts-per-day": "none", "phone": "on"])
        #expect(problems.isEmpty)
        #expect(change.phoneEnabled == true)
        #expect(change.maxTextsPerChatPerDay == .some(nil))
        #expect(change.quietHours != nil && change.quietHours! == nil)
        let (_, many) = ChannelSettingsChange.parse(["phone": "maybe", "cooldown": "8 days", "time-zone": "../etc/passwd"])
        #expect(many.count == 3, "\(many)")
    }
}
