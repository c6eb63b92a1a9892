"""The sandbox chat page in a real headless browser: a person signs up, is approved and wins an offer."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bot.app import StorerunBot
from dispatch.pilot import PILOT_FILE, read_pilot, seed
from sandbox.emulator import BotApiEmulator
from sandbox.web import ChatPage
from tests.e2e.conftest import ADMIN_ID, TOKEN, make_settings
from tests.e2e.people import LAS_VEGAS, offer_line

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DRIVER_ID = 2002
DRIVER_NAME = "Lee Park"
# One step of the journey: the bot answers within a second or two; a busy 2-core machine gets slack.
STEP_SECONDS = 20.0
NO_BROWSER = not (CHROMIUM.exists() and CHROMEDRIVER.exists())
needs_a_browser = pytest.mark.skipif(
    NO_BROWSER,
    reason="needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)",
)
VEGAS = ZoneInfo("America/Los_Angeles")

T = TypeVar("T")


# --------------------------------------------------------------------------- the world


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as running:
        running.add_user(ADMIN_ID, "Ada", username="ada_admin")
        yield running


@pytest_asyncio.fixture
async def storerun(emulator: BotApiEmulator, sqlite_url: str) -> AsyncIterator[StorerunBot]:
    """The real bot polling the emulator, seeded with the pilot areas and stores."""
    bot = StorerunBot(make_settings(emulator, sqlite_url))
    await bot.db.upgrade()
    await seed(bot.db, read_pilot(PILOT_FILE))
    await bot.start()
    yield bot
    await bot.stop()


@pytest_asyncio.fixture
async def page(emulator: BotApiEmulator) -> AsyncIterator[ChatPage]:
    async with ChatPage(emulator, people=[(ADMIN_ID, "Ada", "admin")]) as running:
        yield running


# --------------------------------------------------------------------------- the browser


def _ignoring_stale(condition: Callable[[], T | None]) -> Callable[[WebDriver], T | None]:
    """A wait condition that treats a node the page just re-rendered as "not yet"."""

    def check(_: WebDriver) -> T | None:
        try:
            return condition()
        except StaleElementReferenceException:
            return None

    return check


class Screen:
    """What a person does on the chat page, step by blocking step (run them in a thread)."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def until(self, condition: Callable[[], T | None], what: str) -> T:
        """Wait for a DOM condition; on timeout, say what was awaited and show the chat."""
        try:
            found = WebDriverWait(self.driver, STEP_SECONDS, poll_frequency=0.1).until(
                _ignoring_stale(condition)
            )
        except WebDriverException as error:
            shown = self.shown()
            raise AssertionError(f"waited {STEP_SECONDS}s for {what}; the page shows:\n{shown}") from error
        assert found is not None  # until() returns only a truthy value
        return found

    def shown(self) -> str:
        """The chat and keyboard as the page shows them."""
        return str(self.driver.find_element(By.TAG_NAME, "main").text)

    def testids(self, testid: str, within: WebElement | None = None) -> list[WebElement]:
        return (within or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.until(lambda: self.testids("role") or None, "the role picker")

    def become_new_person(self, user_id: int, name: str) -> None:
        self.testids("new-name")[0].send_keys(name)
        self.testids("new-id")[0].send_keys(str(user_id))
        self.testids("new-person")[0].click()
        self.until(lambda: f"{name} (person, {user_id})" in self.testids("current-role")[0].text, name)

    def become(self, user_id: int) -> None:
        """Pick a listed person; their chat replaces the one shown."""

        def picked() -> bool:
            role = self.driver.find_element(
                By.CSS_SELECTOR, f'[data-testid="role"][data-user-id="{user_id}"]'
            )
            role.click()
            return f", {user_id})" in self.testids("current-role")[0].text

        self.until(picked, f"the role of user {user_id}")

    def bot_message(self, text: str) -> str:
        """The newest bot bubble containing `text`, waiting for it; returns its whole text."""

        def found() -> str | None:
            for message in reversed(self.testids("message")):
                if message.get_attribute("data-from") == "bot" and text in message.text:
                    return str(message.text)
            return None

        return self.until(found, f"a bot message with {text!r}")

    def press(self, label: str, *, in_message: str) -> None:
        """Press an inline button under the newest bot message containing `in_message`."""

        def pressed() -> bool:
            for message in reversed(self.testids("message")):
                if message.get_attribute("data-from") != "bot" or in_message not in message.text:
                    continue
                for button in self.testids("button", within=message):
                    if button.text == label:
                        button.click()
                        return True
                return False
            return False

        self.until(pressed, f"button {label!r} under a message with {in_message!r}")

    def press_key(self, label: str) -> None:
        """Press a button of the reply keyboard under the text box."""

        def pressed() -> bool:
            for key in self.testids("key"):
                if key.text == label:
                    key.click()
                    return True
            return False

        self.until(pressed, f"reply-keyboard button {label!r}")

    def send(self, text: str) -> None:
        box = self.testids("text")[0]
        self.until(lambda: box.is_enabled(), "the text box")
        box.send_keys(text)
        self.testids("send")[0].click()
        self.until(
            lambda: any(
                m.get_attribute("data-from") == "person" and m.text.startswith(text)
                for m in self.testids("message")
            ),
            f"my message {text!r}",
        )


def _start_chromium(profile: str) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(STEP_SECONDS)
    return driver


@pytest_asyncio.fixture
async def screen() -> AsyncIterator[Screen]:
    with tempfile.TemporaryDirectory(prefix="storerun-chromium-") as profile:
        driver = await asyncio.to_thread(_start_chromium, profile)
        try:
            yield Screen(driver)
        finally:
            await asyncio.to_thread(driver.quit)


async def do(step: Callable[..., T], *args: Any) -> T:
    """One blocking browser step, while the emulator and the bot keep serving in this loop."""
    return await asyncio.to_thread(step, *args)


# --------------------------------------------------------------------------- the journey


@needs_a_browser
@pytest.mark.timeout(120)
async def test_driver_signs_up_and_wins_an_offer_in_the_browser(
    emulator: BotApiEmulator, storerun: StorerunBot, page: ChatPage, screen: Screen
) -> None:
    await do(screen.open, page.url)

    # A new person signs up as a driver.
    await do(screen.become_new_person, DRIVER_ID, DRIVER_NAME)
    await do(screen.send, "/start")
    await do(screen.bot_message, "Pick your area")
    await do(lambda: screen.press(LAS_VEGAS, in_message="Pick your area"))
    await do(screen.bot_message, "Share your phone")
    await do(screen.press_key, "📱 Share my phone")
    await do(screen.bot_message, "Your application is with our admins")

    # The admin approves the application from its card.
    await do(screen.become, ADMIN_ID)
    await do(screen.bot_message, f": {DRIVER_NAME}")
    await do(lambda: screen.press("Approve", in_message=f": {DRIVER_NAME}"))
    decided = await do(screen.bot_message, "Approved by")
    assert DRIVER_NAME in decided

    # The driver goes online from the approval message.
    await do(screen.become, DRIVER_ID)
    await do(screen.bot_message, "You're approved")
    await do(lambda: screen.press("Go online", in_message="You're approved"))
    await do(screen.bot_message, "You're online")

    # The admin posts an offer; its card names the offer.
    await do(screen.become, ADMIN_ID)
    await do(screen.send, offer_line(ref="WEB1"))
    card = await do(screen.bot_message, "Ref WEB1 ")
    found = re.search(r"Offer #(\d+)", card)
    assert found, card
    offer_id = int(found.group(1))

    # The driver sees the offer and takes it.
    await do(screen.become, DRIVER_ID)
    await do(screen.bot_message, f"#{offer_id} ·")
    await do(lambda: screen.press("Accept", in_message=f"#{offer_id} ·"))
    await do(screen.bot_message, "It's yours")

    # The admin's board shows the offer held by the driver.
    await do(screen.become, ADMIN_ID)
    await do(screen.send, "/offers accepted")
    board = await do(screen.bot_message, f"#{offer_id} FS-ZARA WEB1")
    line = next(line for line in board.splitlines() if f"#{offer_id} " in line)
    assert "accepted" in line and DRIVER_NAME in line, board


@needs_a_browser
@pytest.mark.timeout(60)
async def test_changing_the_role_in_the_address_switches_the_chat(
    emulator: BotApiEmulator, page: ChatPage, screen: Screen
) -> None:
    emulator.add_user(DRIVER_ID, "Lee", last_name="Park")
    await emulator.send_text(DRIVER_ID, "hello from Lee")

    await do(screen.open, f"{page.url}#user={ADMIN_ID}")
    await do(screen.until, lambda: f", {ADMIN_ID})" in screen.testids("current-role")[0].text, "the admin")
    await do(screen.driver.execute_script, f"location.hash = '#user={DRIVER_ID}'")

    await do(screen.until, lambda: f", {DRIVER_ID})" in screen.testids("current-role")[0].text, "Lee")
    await do(screen.until, lambda: "hello from Lee" in screen.shown(), "Lee's chat")


@needs_a_browser
@pytest.mark.timeout(60)
async def test_emoji_show_in_colour(emulator: BotApiEmulator, page: ChatPage, screen: Screen) -> None:
    emulator.add_user(DRIVER_ID, "Lee", last_name="Park")
    await emulator.send_text(DRIVER_ID, "🎉📦✅🚗")

    await do(screen.open, f"{page.url}#user={DRIVER_ID}")
    bubble = await do(
        screen.until,
        lambda: next((b for b in screen.testids("bubble") if "🎉" in b.text), None),
        "the bubble with emoji",
    )
    picture = Image.open(io.BytesIO(await do(lambda: bubble.screenshot_as_png))).convert("RGB")

    # A colour emoji font draws saturated colours; without one Chromium draws grey boxes or outlines.
    pixels = picture.tobytes()
    colourful = sum(
        1 for at in range(0, len(pixels), 3) if max(pixels[at : at + 3]) - min(pixels[at : at + 3]) > 100
    )
    assert colourful > 50, "the emoji are not drawn in colour (apt-get install fonts-noto-color-emoji)"


# --------------------------------------------------------------------------- the API without a browser


async def test_the_page_tells_the_time_of_each_message_and_the_time_it_is() -> None:
    """In the sandbox these are the simulated clock's times, shown in the pilot's zone."""
    said_at = datetime(2026, 3, 2, 10, 5, 40, tzinfo=VEGAS)
    async with BotApiEmulator(token=TOKEN, wall_clock=said_at.timestamp) as emulator:
        emulator.add_user(DRIVER_ID, "Lee", last_name="Park")
        await emulator.send_text(DRIVER_ID, "/start")
        now = datetime(2026, 3, 2, 10, 30, tzinfo=VEGAS)
        async with (
            ChatPage(emulator, zone=VEGAS, now=lambda: now) as page,
            aiohttp.ClientSession(page.url) as session,
            session.get(f"/api/people/{DRIVER_ID}/chat") as response,
        ):
            chat = await response.json()

    assert [message["time"] for message in chat["messages"]] == ["10:05 PST"]
    assert chat["now"] == "10:30 PST"


async def test_page_api_answers_errors_as_json(emulator: BotApiEmulator, page: ChatPage) -> None:
    async with aiohttp.ClientSession(page.url) as session:
        async with session.get("/") as response:
            assert response.status == 200
            assert 'data-testid="text"' in await response.text()
        async with session.get("/api/people") as response:
            assert (await response.json())["people"][0] == {
                "user_id": ADMIN_ID,
                "name": "Ada",
                "label": "admin",
            }
        cases: list[tuple[str, str, Any, int]] = [
            ("GET", "/api/people/4242/chat", None, 404),
            ("GET", "/api/people/abc/chat", None, 400),
            ("POST", f"/api/people/{ADMIN_ID}/text", {"text": ""}, 400),
            ("POST", f"/api/people/{ADMIN_ID}/text", [1, 2], 400),
            ("POST", f"/api/people/{ADMIN_ID}/press", {"label": "Nope"}, 404),
            ("POST", "/api/people", {"name": "Ada again", "user_id": ADMIN_ID}, 409),
            ("POST", "/api/people", {"user_id": 7}, 400),
            ("GET", "/api/nothing-here", None, 404),
        ]
        for method, path, body, status in cases:
            async with session.request(method, path, json=body) as response:
                assert response.status == status, (method, path)
                assert "error" in await response.json(), (method, path)

        async with session.post("/api/people", json={"name": "Lee Park"}) as response:
            person = (await response.json())["person"]
    assert person == {"user_id": 5001, "name": "Lee Park", "label": "person"}
    assert [p.first_name for p in emulator.people() if p.user_id == 5001] == ["Lee"]
