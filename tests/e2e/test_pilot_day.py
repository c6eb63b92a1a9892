"""A short, seeded simulated pilot day: at its end every invariant holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.simulation import DayPlan, PilotDay, held_in_chat, summary_text


@pytest.mark.timeout(300)
async def test_a_two_hour_day_at_600x_keeps_every_invariant(tmp_path: Path) -> None:
    plan = DayPlan(
        speed=600,
        hours=2,
        drivers=12,
        orders=12,
        seed=3,
        chart_path=tmp_path / "day.png",
        transcript_dir=tmp_path / "transcripts",
    )
    day = PilotDay(plan)
    checked: dict[str, object] = {}

    async def look_before_the_bot_stops(running: PilotDay) -> None:
        # What the tick sees mid-day is only the live table; the real checks come with the summary.
        checked["board"] = await running.board()

    summary = await day.run(on_tick=look_before_the_bot_stops)

    assert summary.problems == [], summary_text(summary)
    assert summary.offers == plan.orders  # every order a store posted became an offer
    assert summary.accepted >= 1 and summary.delivered >= 1
    assert summary.too_many_requests == 0
    assert summary.chart_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert len(summary.transcripts) == 1 + len(day.clerks) + plan.drivers
    admin_chat = (tmp_path / "transcripts" / "1000-Ada.txt").read_text()
    assert "🧾 New driver" in admin_chat and "Approved by Ada" in admin_chat
    assert checked["board"]
    # The stores posted through their chats, and the drivers typed the codes they saw there.
    assert day.emulator is not None
    assert any(
        "Pickup code:" in (m.text or "")
        for clerk in day.clerks.values()
        for m in day.emulator.chat(clerk.user_id)
    )


def test_what_a_driver_holds_is_read_off_their_chat() -> None:
    from sandbox.emulator import ChatMessage, InlineButton

    def bot(message_id: int, text: str, *labels: str) -> ChatMessage:
        keyboard = (
            [[InlineButton(label=label, callback_data="1:x:1", url=None) for label in labels]]
            if labels
            else []
        )
        return ChatMessage(
            message_id=message_id,
            from_bot=True,
            text=text,
            inline_keyboard=keyboard,
            edited=False,
            document=None,
            photo=None,
            date=0,
        )

    chat = [
        bot(1, "✅ It's yours: #4 · Zara · $12.50", "Confirm pickup", "Release"),
        bot(2, "📦 Picked up: #5 · Zara · $12.50 · order D1"),
        bot(3, "🚗 Deliver order D1 (1 package) · #5\nTo: 1 Main St", "Delivered", "Can't deliver"),
        bot(4, "Offer #6 · Zara · $9.00: you released it. It's offered to other drivers."),
        bot(5, "⚠️ You're late for pickup at Zara (#7)", "Confirm pickup", "Release"),
    ]
    assert held_in_chat(chat) == {4, 5}
