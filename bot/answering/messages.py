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
        "start": "Hello! I answer questions about the G-21 statement on the follow-up to the 2013 high-level meeting of the UN General Assembly on nuclear disarmament, and cite the paragraphs (¶N) I rely on.\n\nTry:\n• What is the highest priority of the Conference on Disarmament?\n• What does the Group say about the Middle East?\n• Show me paragraph 12\n\n/help lists the commands.",
        "help": "Ask a question in English or Chinese. Commands:\n/para N: paragraph N in full\n/about: the document\n/lang zh|en|auto: reply language\n/reset: forget our conversation\n/ask QUESTION: ask in a group\n\nIn groups, mention me or reply to me. In any chat, type @{bot} and a few words to share a paragraph.",
        "about": "{title}\nSubmitted by: {submitter}\nSource: {source}\nParagraphs: {count}\nLanguages: {languages}\n{note}",
        "lang_set": "Replies will be in {choice}.",
        "lang_usage": "Usage: /lang zh, /lang en or /lang auto (follow the language of each question).",
        "reset_done": "Done: I have forgotten our conversation.",
        "para_usage": "Usage: /para N, with N from 1 to {count}.",
        "text_only": "I can only answer text questions. Please type your question.",
        "too_long": "That question is {length} characters long; please keep it under {limit}.",
        "slow_down": "You are asking faster than I can answer well. Please wait a minute and try again.",
        "not_allowed": "Sorry, this bot is private.",
        "unknown_command": "I don't know that command. /help lists what I can do.",
        "error": "Sorry, something went wrong while answering. Please try again.",
        "button_expired": "That button has expired; use /para N instead.",
        "admin_only": "That command is for the bot's admins.",
        "reindexed": "Reindexed: {summary}.",
        "edited": "(You edited your message; here is the answer to the new text.)",
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
        "start": "您好！我回答关于 21 国集团《关于 2013 年核裁军问题大会高级别会议后续行动的声明》的问题，并标明所依据的段落（¶N）。\n\n可以试试：\n• 裁军谈判会议最为优先的任务是什么？\n• 本集团对在中东建立无核武器区持什么立场？\n• 第12段说了什么？\n\n/help 查看全部命令。",
        "help": "用中文或英文提问即可。命令：\n/para N：查看第 N 段全文\n/about：文件信息\n/lang zh|en|auto：回答语言\n/reset：清除对话记录\n/ask 问题：在群组中提问\n\n在群组中请 @我 或回复我的消息。在任何聊天中输入 @{bot} 加关键词即可分享段落。",
        "about": "{title}\n提交方：{submitter}\n来源：{source}\n段落数：{count}\n语言：{languages}\n{note}",
        "lang_set": "回答语言已设为：{choice}。",
        "lang_usage": "用法：/lang zh、/lang en 或 /lang auto（跟随每个问题的语言）。",
        "reset_done": "好的，已清除我们的对话记录。",
        "para_usage": "用法：/para N，N 为 1 到 {count}。",
        "text_only": "我只能回答文字问题，请输入您的问题。",
        "too_long": "问题长度为 {length} 个字符，请控制在 {limit} 个字符以内。",
        "slow_down": "提问太快了，请稍等一分钟再试。",
        "not_allowed": "抱歉，此机器人不对外开放。",
        "unknown_command": "我不认识这个命令。/help 查看可用命令。",
        "error": "抱歉，回答时出了问题，请再试一次。",
        "button_expired": "该按钮已失效，请使用 /para N。",
        "admin_only": "该命令仅限管理员使用。",
        "reindexed": "已重建索引：{summary}。",
        "edited": "（您编辑了消息，以下是对新内容的回答。）",
    },
}


# The languages every fixed message is written in: a reply is in one of these.
REPLY_LANGUAGES: tuple[str, ...] = tuple(MESSAGES)


def message(lang: str, key: str, **values: object) -> str:
    table = MESSAGES.get(lang, MESSAGES["en"])
    return table[key].format(**values)
