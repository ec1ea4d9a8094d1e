"""Support requests written for the tone benchmark: 25 facts of a made-up shop ("Zentrix"), each
asked 4 ways (plain, upset, hurried, polite), with the words a correct answer must contain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupportRequest:
    question: str
    knowledge: str  # the stored fact the answer needs
    fact: str  # what the answer must contain (compared normalised)


# (knowledge, needed words, four ways of asking)
_FACTS: tuple[tuple[str, str, tuple[str, str, str, str]], ...] = (
    ("Zentrix refunds arrive within 5 business days.", "5 business days",
     ("When will my refund arrive?", "I'm so annoyed, where is my refund?",
      "Quick: how long does a refund take?", "Could you tell me how long a refund takes?")),
    ("Zentrix orders can be tracked at zentrix.com/track.", "zentrix.com/track",
     ("Where can I track my order?", "My order is late again, how do I track it?",
      "Need the tracking page now.", "Would you tell me where to track my order?")),
    ("Zentrix ships to Canada for a flat fee of 9 dollars.", "9 dollars",
     ("How much is shipping to Canada?", "Why is shipping to Canada so expensive?",
      "Canada shipping cost?", "May I ask what shipping to Canada costs?")),
    ("Zentrix passwords are reset from the Security tab in Settings.", "security tab",
     ("How do I reset my password?", "I'm locked out and furious, how do I reset my password?",
      "Password reset, where?", "Could you explain how to reset my password?")),
    ("The Zentrix support line is open from 8 am to 6 pm.", "8 am to 6 pm",
     ("When is the support line open?", "Nobody answers the phone, when are you open?",
      "Support hours?", "Would you share the support line's hours?")),
    ("Zentrix returns are accepted within 30 days of delivery.", "30 days",
     ("How long do I have to return an item?", "This product is awful, can I still return it?",
      "Return window?", "Could you tell me the return period?")),
    ("Zentrix gift cards never expire.", "never expire",
     ("Do gift cards expire?", "I'm worried my gift card expired, does it?",
      "Gift card expiry?", "May I ask whether gift cards expire?")),
    ("Zentrix express delivery takes 2 days.", "2 days",
     ("How long does express delivery take?",
      "I paid for express and it's slow, how long should it take?",
      "Express delivery time?", "Could you tell me how long express delivery takes?")),
    ("The Zentrix warranty covers 2 years for every device.", "2 years",
     ("How long is the warranty?", "My device broke, how long is the warranty?",
      "Warranty length?", "Would you tell me how long the warranty lasts?")),
    ("Zentrix accepts payment by card, PayPal and bank transfer.", "paypal",
     ("Which payment methods do you accept?", "My card was declined, how else can I pay?",
      "Payment options?", "Could you list the payment methods you accept?")),
    ("Zentrix invoices are in the Billing section of your account.", "billing section",
     ("Where do I find my invoices?", "I can't find my invoice anywhere, where is it?",
      "Invoices where?", "Would you tell me where my invoices are?")),
    ("Zentrix accounts are deleted from the Privacy page in Settings.", "privacy page",
     ("How do I delete my account?", "I'm fed up, how do I delete my account?",
      "Delete account how?", "Could you explain how to delete my account?")),
    ("The Zentrix app needs Android 10 or newer.", "android 10",
     ("Which Android version does the app need?", "The app won't install, which Android do I need?",
      "Android version needed?", "May I ask which Android version the app requires?")),
    ("Zentrix replaces damaged items for free within 14 days.", "14 days",
     ("My item arrived damaged, what now?", "My item came broken and I'm upset, what can you do?",
      "Damaged item, fix?", "Could you tell me what happens with a damaged item?")),
    ("Zentrix student discounts are 15 percent.", "15 percent",
     ("Is there a student discount?", "Why don't students get anything, is there a discount?",
      "Student discount?", "May I ask whether students get a discount?")),
    ("Zentrix orders placed before 2 pm ship the same day.", "2 pm",
     ("When do orders ship?", "My order still hasn't shipped, when do orders go out?",
      "Same day shipping cutoff?", "Could you tell me the cutoff for same-day shipping?")),
    ("Zentrix subscriptions are cancelled from the Plans page.", "plans page",
     ("How do I cancel my subscription?", "I was charged again, how do I cancel?",
      "Cancel subscription where?", "Would you explain how to cancel my subscription?")),
    ("Zentrix stores are closed on Sundays.", "sundays",
     ("When are your stores closed?",
      "I drove to the store and it was closed, when are you closed?",
      "Store closing day?", "May I ask which day the stores are closed?")),
    ("Zentrix price matching applies within 7 days of purchase.", "7 days",
     ("Do you match prices?", "I found it cheaper elsewhere, do you match prices?",
      "Price match window?", "Could you tell me about price matching?")),
    ("Zentrix chargers are sold separately for 19 dollars.", "19 dollars",
     ("Is a charger included?", "There was no charger in the box, what gives?",
      "Charger price?", "May I ask whether a charger is included?")),
    ("Zentrix loyalty points expire after 12 months.", "12 months",
     ("Do loyalty points expire?", "My points vanished, do they expire?",
      "Points expiry?", "Could you tell me when loyalty points expire?")),
    ("Zentrix repairs take about 10 days.", "10 days",
     ("How long does a repair take?", "My repair is taking forever, how long should it be?",
      "Repair time?", "Would you tell me how long repairs take?")),
    ("Zentrix email support answers within 24 hours.", "24 hours",
     ("How fast does email support answer?",
      "I emailed you and heard nothing, how long does it take?",
      "Email reply time?", "May I ask how quickly email support replies?")),
    ("Zentrix international orders may incur customs fees paid by the buyer.",
     "customs fees",
     ("Are there extra fees for international orders?",
      "I got an unexpected bill for my order, why?",
      "International fees?", "Could you explain the fees on international orders?")),
    ("Zentrix accounts lock after 5 failed login attempts.", "5 failed login attempts",
     ("Why is my account locked?", "My account is locked and I'm angry, why?",
      "Account locked, why?", "Could you tell me why an account gets locked?")),
)  # fmt: skip

REQUESTS: tuple[SupportRequest, ...] = tuple(
    SupportRequest(question, knowledge, fact)
    for knowledge, fact, questions in _FACTS
    for question in questions
)
