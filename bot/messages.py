"""Fixed wording the assistant uses, per language."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "lead": "According to the statement:",
        "translation_note": "(Quotes are from an unofficial English translation of the Chinese original.)",
        "paragraph_head": "Paragraph {n}",
        "no_such_paragraph": "The statement has {count} paragraphs (1-{count}); there is no paragraph {missing}.",
        "not_covered": "The statement does not address this question{topic}.",
        "not_covered_topic": " ({topic})",
        "empty": "Please type a question about the G-21 statement, for example: “What is the highest priority of the Conference on Disarmament?”",
        "llm_unverified": "(A generated answer could not be checked against the statement, so these are the passages that answer it.)",
        "unavailable": "The statement index is temporarily unavailable. Please try again in a minute.",
    },
    "zh": {
        "lead": "根据声明：",
        "translation_note": "",
        "paragraph_head": "第 {n} 段",
        "no_such_paragraph": "声明共有 {count} 段（第 1-{count} 段），没有第 {missing} 段。",
        "not_covered": "声明没有涉及这个问题{topic}。",
        "not_covered_topic": "（{topic}）",
        "empty": "请输入一个关于 21 国集团声明的问题，例如：“裁军谈判会议最为优先的任务是什么？”",
        "llm_unverified": "（生成的回答无法与声明原文核对，以下是回答该问题的原文。）",
        "unavailable": "声明索引暂时无法使用，请稍后再试。",
    },
}


def message(lang: str, key: str, **values: object) -> str:
    table = MESSAGES.get(lang, MESSAGES["en"])
    return table[key].format(**values)
